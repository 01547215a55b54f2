-- Drafts (下書き): an applicant's unsigned answers, saved over several sittings and resumed with a
-- draft token (kept only as its SHA-256). Files uploaded to a draft are content-addressed. A draft
-- is finalised into the exact document bytes to sign, with a fresh nonce; intake deletes the draft
-- whose nonce it consumes, in the submission's own transaction. Expired drafts are purged.

CREATE TABLE draft (
    id              uuid PRIMARY KEY,
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    form_id         text NOT NULL REFERENCES form (id),
    form_version_id uuid NOT NULL REFERENCES form_version (id),
    answers         jsonb NOT NULL CHECK (jsonb_typeof(answers) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);

-- What the purge walks.
CREATE INDEX draft_expires_idx ON draft (expires_at);

CREATE TABLE draft_attachment (
    draft_id   uuid NOT NULL REFERENCES draft (id) ON DELETE CASCADE,
    sha256     bytea NOT NULL CHECK (length(sha256) = 32),
    filename   text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    media_type text NOT NULL CHECK (length(media_type) BETWEEN 3 AND 100),
    size       bigint NOT NULL CHECK (size >= 0),
    content    bytea NOT NULL CHECK (length(content) = size),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (draft_id, sha256)
);

-- Every nonce a draft was finalised with: whichever of its documents intake takes ends the draft.
CREATE TABLE draft_nonce (
    nonce    text PRIMARY KEY REFERENCES nonce (nonce),
    draft_id uuid NOT NULL REFERENCES draft (id) ON DELETE CASCADE
);

CREATE INDEX draft_nonce_draft_idx ON draft_nonce (draft_id);
