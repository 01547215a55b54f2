-- 個人番号 (My Number, 特定個人情報 under the My Number Act): collected only where a procedure
-- declares its legal basis, encrypted at rest under a data key per agency, shown in full only to
-- staff whose token carries the permission, and purged early where the procedure says so.

-- NULL: the procedure does not collect it. {"allowed": true, "basis": "...", "retain_days": n}.
ALTER TABLE procedure ADD COLUMN my_number jsonb CHECK (my_number IS NULL OR jsonb_typeof(my_number) = 'object');

-- What a staff token (and the console sessions it opens) may do beyond its role.
ALTER TABLE api_token ADD COLUMN permissions text[] NOT NULL DEFAULT '{}'
    CHECK (permissions <@ ARRAY['my_number:read']::text[]);

-- Data keys, each wrapped (AES-256-GCM) by a master key that is never in the database; the id of
-- that master key is kept beside it, and rotation re-wraps these rows alone. Values name their data
-- key in their own header, so a retired key still opens what it encrypted.
CREATE TABLE my_number_key (
    id            uuid PRIMARY KEY,
    agency_code   text NOT NULL REFERENCES agency (code),
    master_key_id text NOT NULL CHECK (master_key_id ~ '^[0-9a-f]{16}$'),
    -- nonce (12) + the 32-byte key + tag (16)
    wrapped       bytea NOT NULL CHECK (length(wrapped) = 60),
    created_at    timestamptz NOT NULL DEFAULT now(),
    rewrapped_at  timestamptz,
    retired_at    timestamptz
);

CREATE UNIQUE INDEX my_number_key_current_idx ON my_number_key (agency_code) WHERE retired_at IS NULL;

-- The revisions of forms that carry a 個人番号. revision.document then holds the signed bytes
-- encrypted as a whole (bound to its document_sha256), and this row the answers as every view shows
-- them, each number masked, so that no view needs the key. An early purge (the procedure's
-- my_number.retain_days) empties revision.document and masks the answers fully; the rest of the
-- application (hash, signatures and their reports, receipts, the audit trail) stays.
CREATE TABLE revision_my_number (
    revision_id uuid PRIMARY KEY REFERENCES revision (id),
    agency_code text NOT NULL REFERENCES agency (code),
    answers     jsonb NOT NULL CHECK (jsonb_typeof(answers) = 'object'),
    pointers    text[] NOT NULL,
    purged_at   timestamptz
);

CREATE INDEX revision_my_number_unpurged_idx ON revision_my_number (revision_id) WHERE purged_at IS NULL;
