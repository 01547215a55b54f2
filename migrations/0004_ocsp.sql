-- OCSP: a responder URL per anchor, and the responses fetched from it (checked before they are kept).

ALTER TABLE trust_anchor ADD COLUMN ocsp_url text CHECK (ocsp_url ~ '^https?://');

CREATE TABLE trust_ocsp (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    issuer_key_id bytea NOT NULL,
    serial        numeric NOT NULL,
    response      bytea NOT NULL,
    sha256        bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
    status        text NOT NULL CHECK (status IN ('good', 'revoked', 'unknown')),
    produced_at   timestamptz NOT NULL,
    this_update   timestamptz NOT NULL,
    next_update   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX trust_ocsp_certificate_idx ON trust_ocsp (issuer_key_id, serial, this_update DESC);
