-- The clerk's queue: who works a submission, and whether any clerk has opened it yet.

ALTER TABLE submission ADD COLUMN assignee uuid REFERENCES api_token (id);
ALTER TABLE submission ADD COLUMN first_opened_at timestamptz;

CREATE INDEX submission_claimable_idx ON submission (agency_code, created_at, id)
    WHERE status = 'received' AND assignee IS NULL;
