-- Card sign-in (利用者証明用電子証明書): a challenge signed with the card's authentication key gives a
-- short-lived applicant session (its token kept only as a SHA-256). An authentication certificate
-- carries no holder items, so it is linked once to the holder of a signing certificate of the same
-- card (both sign the same challenge); a renewed card is linked the same way. Sessions list the
-- submissions whose signer identity (name + birth date, as withdrawal matches it) is the holder's.

CREATE TABLE applicant_challenge (
    challenge   text PRIMARY KEY CHECK (challenge ~ '^[A-Za-z0-9_-]{32,128}$'),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    consumed_at timestamptz,
    CHECK (expires_at > issued_at)
);

CREATE INDEX applicant_challenge_expires_idx ON applicant_challenge (expires_at);

-- The authentication certificate (by SHA-256 of its DER) and whose card it is (personal data).
CREATE TABLE card_link (
    auth_certificate_sha256    bytea PRIMARY KEY CHECK (length(auth_certificate_sha256) = 32),
    signing_certificate_sha256 bytea NOT NULL CHECK (length(signing_certificate_sha256) = 32),
    identity                   jsonb NOT NULL CHECK (identity ? 'name' AND identity ? 'birth_date'),
    linked_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE applicant_session (
    token_hash              bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    auth_certificate_sha256 bytea NOT NULL REFERENCES card_link (auth_certificate_sha256),
    identity                jsonb NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    expires_at              timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);

CREATE INDEX applicant_session_expires_idx ON applicant_session (expires_at);

-- The holder's applications: containment on signer_identity, newest first.
CREATE INDEX submission_signer_identity_idx ON submission USING gin (signer_identity jsonb_path_ops);
