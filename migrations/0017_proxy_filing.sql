-- Filing on someone's behalf (代理申請・提出代行): the catalogue says whether a procedure takes a
-- principal's signed mandate (委任状) and which professions may file with a signed statement instead.
-- A filing keeps that document, its signature and its report beside the submission, with who filed
-- (the agent, who signed the application) and for whom. Personal data, like signer_identity.

-- Professional associations' CAs are trust classes of their own (提出代行).
ALTER TABLE trust_anchor DROP CONSTRAINT trust_anchor_certificate_class_check;
ALTER TABLE trust_anchor ADD CONSTRAINT trust_anchor_certificate_class_check CHECK (certificate_class IN
    ('jpki', 'corporate', 'accredited', 'sharoushi', 'gyouseishoshi', 'zeirishi', 'shihoshoshi'));

-- NULL: no filing on someone's behalf. {"mandate": bool, "professions": [...]}.
ALTER TABLE procedure ADD COLUMN proxy jsonb CHECK (proxy IS NULL OR jsonb_typeof(proxy) = 'object');

CREATE TABLE proxy_filing (
    submission_id     uuid PRIMARY KEY REFERENCES submission (id),
    kind              text NOT NULL CHECK (kind IN ('mandate', 'profession')),
    agent             jsonb NOT NULL,
    principal         jsonb NOT NULL,
    -- The agent's name as the queue filters it (NFKC, spaces removed).
    agent_key         text NOT NULL CHECK (length(agent_key) BETWEEN 1 AND 200),
    -- The mandate, or the professional's statement (提出代行証明書), and its signature.
    mandate           bytea NOT NULL,
    mandate_signature bytea NOT NULL,
    mandate_sha256    bytea NOT NULL CHECK (length(mandate_sha256) = 32),
    report            jsonb NOT NULL
);

CREATE INDEX proxy_filing_agent_idx ON proxy_filing (agent_key, submission_id);
