-- Revocation as EN 319 102-1 judges it by default: a signature passes with revocation data that is
-- current when it is checked, and is *confirmed* once data issued after it was made says the same.
-- Procedures (or their agency) may require confirmation before approval. Test signatures are marked.
-- Applicant signatures may carry an RFC 3161 time-stamp token (CAdES-T) kept beside the CMS.

ALTER TABLE revision ADD COLUMN confirmed boolean;
-- Until now a signature passed only with revocation data issued after it: every pass was confirmed.
UPDATE revision SET confirmed = (verification_status = 'passed');
ALTER TABLE revision ALTER COLUMN confirmed SET NOT NULL, ALTER COLUMN confirmed SET DEFAULT false;

-- What re-verification walks: signatures waiting for data, and passes waiting for confirmation.
CREATE INDEX revision_unconfirmed_idx ON revision (received_at)
    WHERE verification_status = 'passed' AND NOT confirmed;

ALTER TABLE revision_signature ADD COLUMN timestamp_token bytea;

ALTER TABLE agency ADD COLUMN revocation text NOT NULL DEFAULT 'current'
    CHECK (revocation IN ('current', 'confirmed'));
-- NULL: the agency's rule.
ALTER TABLE procedure ADD COLUMN revocation text CHECK (revocation IN ('current', 'confirmed'));

CREATE INDEX submission_revocation_unconfirmed_idx ON submission (agency_code, created_at, id)
    WHERE flags @> '{revocation_unconfirmed}';
CREATE INDEX submission_test_signature_idx ON submission (agency_code, created_at, id)
    WHERE flags @> '{test_signature}';
