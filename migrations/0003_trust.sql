-- What signatures are judged against: trust anchors per certificate class, extra (link and rollover)
-- certificates, and CRLs. Certificates and CRLs are kept as the DER that was uploaded.

CREATE TABLE trust_anchor (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    certificate_class text NOT NULL CHECK (certificate_class IN ('jpki', 'corporate', 'accredited')),
    test              boolean NOT NULL DEFAULT false,
    certificate       bytea NOT NULL,
    sha256            bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
    subject           text NOT NULL,
    key_id            bytea NOT NULL,
    not_after         timestamptz NOT NULL,
    -- Where fresh CRLs for this CA can be fetched by the periodic refresh (JPKI CRLs are not
    -- reachable from the certificate: its distribution point is a directory name).
    crl_url           text CHECK (crl_url ~ '^https?://'),
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE trust_certificate (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    certificate bytea NOT NULL,
    sha256      bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
    subject     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE trust_crl (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    issuer_key_id bytea NOT NULL,
    crl           bytea NOT NULL,
    sha256        bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
    crl_number    numeric,
    this_update   timestamptz NOT NULL,
    next_update   timestamptz,
    revoked_count integer NOT NULL CHECK (revoked_count >= 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX trust_crl_issuer_idx ON trust_crl (issuer_key_id, this_update DESC);
