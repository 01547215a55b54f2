-- The queue at scale. Its order for every status at once (the status filter uses
-- submission_agency_idx), and the open flags of the latest revision kept on the submission itself
-- (identity_mismatch, verification_pending), so that a flag filter walks only the rows with that flag.

CREATE INDEX submission_queue_idx ON submission (agency_code, created_at, id);

ALTER TABLE submission ADD COLUMN flags text[] NOT NULL DEFAULT '{}';

UPDATE submission s SET flags = r.flags || CASE WHEN r.verification_status = 'pending'
                                                THEN ARRAY['verification_pending'] ELSE '{}' END
FROM (SELECT DISTINCT ON (submission_id) submission_id, flags, verification_status
      FROM revision ORDER BY submission_id, number DESC) r
WHERE r.submission_id = s.id;

-- One partial index per flag the queue filters on, its predicate written as the query writes it, so
-- the planner knows exactly how many rows carry the flag and walks them in queue order.
CREATE INDEX submission_identity_mismatch_idx ON submission (agency_code, created_at, id)
    WHERE flags @> '{identity_mismatch}';
CREATE INDEX submission_verification_pending_idx ON submission (agency_code, created_at, id)
    WHERE flags @> '{verification_pending}';
