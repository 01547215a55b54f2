-- Browser sessions of the console: a staff member signs in once with a token and gets a cookie.
-- Only the SHA-256 of the cookie's secret is kept; a session ends at its expiry, at sign-out, or
-- when its token is revoked (the lookup joins api_token and asks revoked_at IS NULL).

CREATE TABLE console_session (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    secret_hash bytea NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    token_id    uuid NOT NULL REFERENCES api_token (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    CHECK (expires_at > created_at),
    CHECK (ended_at IS NULL OR ended_at >= created_at)
);

CREATE INDEX console_session_token_idx ON console_session (token_id) WHERE ended_at IS NULL;
