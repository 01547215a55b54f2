-- Clerk review: decisions with their signed notices, internal comments, and the audit events of one
-- application found by subject.

CREATE TABLE decision (
    submission_id uuid PRIMARY KEY REFERENCES submission (id),
    revision_id   uuid NOT NULL REFERENCES revision (id),
    decision      text NOT NULL CHECK (decision IN ('approved', 'rejected')),
    notice_number text NOT NULL UNIQUE,
    decided_by    uuid NOT NULL REFERENCES api_token (id),
    decided_at    timestamptz NOT NULL,
    notice_json   bytea NOT NULL,
    notice_cms    bytea NOT NULL,
    notice_pdf    bytea  -- the PAdES print, rendered on first download and kept
);

CREATE TABLE comment (
    id            bigserial PRIMARY KEY,
    submission_id uuid NOT NULL REFERENCES submission (id),
    author        uuid NOT NULL REFERENCES api_token (id),
    role          text NOT NULL,
    body          text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    at            timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX comment_submission_idx ON comment (submission_id, id);
CREATE INDEX audit_event_subject_idx ON audit_event (subject, seq);
