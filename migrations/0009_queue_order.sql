-- The queue at scale. Its order for every status at once (the status filter uses
-- submission_agency_idx), and the open flags of the latest revision kept on the submission itself
-- (identity_mismatch, verification_pending), so that a flag filter walks only the flagged rows.

CREATE INDEX submission_queue_idx ON submission (agency_code, created_at, id);

ALTER TABLE submission ADD COLUMN flags text[] NOT NULL DEFAULT '{}';

UPDATE submission s SET flags = r.flags || CASE WHEN r.verification_status = 'pending'
                                                THEN ARRAY['verification_pending'] ELSE '{}' END
FROM (SELECT DISTINCT ON (submission_id) submission_id, flags, verification_status
      FROM revision ORDER BY submission_id, number DESC) r
WHERE r.submission_id = s.id;

CREATE INDEX submission_flagged_idx ON submission (agency_code, created_at, id) WHERE flags <> '{}';
