-- Agencies, the procedure catalogue (the regulatory-reform list) and API tokens.

CREATE TABLE agency (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9-]{1,31}$'),
    name_ja     text NOT NULL CHECK (length(name_ja) BETWEEN 1 AND 200),
    name_en     text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE procedure (
    id                 text PRIMARY KEY CHECK (id ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(id) <= 80),
    agency_code        text NOT NULL REFERENCES agency (code),
    name_ja            text NOT NULL CHECK (length(name_ja) BETWEEN 1 AND 300),
    name_en            text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 300),
    legal_basis        text NOT NULL CHECK (length(legal_basis) <= 500),
    -- What the paper procedure demanded (書面・押印・対面).
    paper              boolean NOT NULL,
    seal               text NOT NULL CHECK (seal IN ('none', 'ordinary', 'registered')),
    in_person          boolean NOT NULL,
    -- What the reform decided about those requirements.
    reform_status      text NOT NULL CHECK (reform_status IN ('abolished', 'retained', 'pending')),
    reform_effective   date,
    reform_note        text NOT NULL DEFAULT '' CHECK (length(reform_note) <= 2000),
    -- An agency's override of the derived digital policy: all three or none.
    override_signature         text CHECK (override_signature IN ('any-trusted', 'qualified')),
    override_identity_proofing boolean,
    override_reason            text CHECK (length(override_reason) BETWEEN 1 AND 2000),
    search_text        text GENERATED ALWAYS AS (lower(normalize(name_ja || ' ' || name_en || ' ' || id, NFKC))) STORED,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((override_signature IS NULL) = (override_reason IS NULL)
       AND (override_signature IS NULL) = (override_identity_proofing IS NULL))
);

CREATE INDEX procedure_agency_idx ON procedure (agency_code, id);

CREATE TABLE api_token (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- SHA-256 of the bearer token; the token itself is shown once and never stored.
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    role        text NOT NULL CHECK (role IN ('admin', 'agency-admin', 'clerk')),
    agency_code text REFERENCES agency (code),
    name        text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK ((role = 'admin') = (agency_code IS NULL))
);
