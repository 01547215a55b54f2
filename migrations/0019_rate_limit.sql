-- Rate limits of the anonymous endpoints that create state (draft creation, card sign-in challenges),
-- per endpoint and client address, shared by every shinsei process that uses this database.
-- GCRA (a token bucket kept as one timestamp): tat is the "theoretical arrival time" of the next
-- request at the sustained rate; a request is let through while tat is at most the burst's worth of
-- intervals ahead of now. A row whose tat has passed says no more than an absent one, and is purged.
CREATE TABLE rate_limit (
    bucket text NOT NULL CHECK (length(bucket) BETWEEN 1 AND 40),
    client bytea NOT NULL CHECK (length(client) = 32),  -- SHA-256 of the address: the address is not kept
    tat timestamptz NOT NULL,
    PRIMARY KEY (bucket, client)
);
CREATE INDEX rate_limit_tat ON rate_limit (tat);
