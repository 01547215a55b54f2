-- Submissions: an application (submission) and its signed revisions, each with its signatures,
-- attachments and receipt. Everything of one revision is written in one transaction.

CREATE TABLE nonce (
    nonce           text PRIMARY KEY CHECK (nonce ~ '^[A-Za-z0-9_-]{16,128}$'),
    form_version_id uuid NOT NULL REFERENCES form_version (id),
    issued_at       timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    consumed_at     timestamptz,
    CHECK (expires_at > issued_at)
);

CREATE TABLE receipt_counter (
    agency_code text NOT NULL REFERENCES agency (code),
    year        integer NOT NULL,
    last        integer NOT NULL CHECK (last >= 0),
    PRIMARY KEY (agency_code, year)
);

CREATE TABLE submission (
    id                uuid PRIMARY KEY,
    agency_code       text NOT NULL REFERENCES agency (code),
    procedure_id      text NOT NULL REFERENCES procedure (id),
    form_id           text NOT NULL REFERENCES form (id),
    status            text NOT NULL CHECK (status IN ('received', 'under_review', 'correction_requested',
                                                      'approved', 'rejected', 'withdrawn', 'signature_invalid')),
    access_token_hash bytea NOT NULL UNIQUE CHECK (length(access_token_hash) = 32),
    -- Who signed, to recognise the same signer on amendment and withdrawal (personal data).
    signer_identity   jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX submission_agency_idx ON submission (agency_code, status, created_at, id);

CREATE TABLE revision (
    id                  uuid PRIMARY KEY,
    submission_id       uuid NOT NULL REFERENCES submission (id),
    number              integer NOT NULL CHECK (number >= 1),
    form_version_id     uuid NOT NULL REFERENCES form_version (id),
    nonce               text NOT NULL UNIQUE REFERENCES nonce (nonce),
    document            bytea NOT NULL,
    document_sha256     bytea NOT NULL UNIQUE CHECK (length(document_sha256) = 32),
    received_at         timestamptz NOT NULL,
    verification_status text NOT NULL CHECK (verification_status IN ('passed', 'pending', 'failed')),
    verification        jsonb NOT NULL,
    flags               text[] NOT NULL DEFAULT '{}',
    receipt_number      text NOT NULL UNIQUE,
    receipt_json        bytea NOT NULL,
    receipt_cms         bytea NOT NULL,
    receipt_pdf         bytea,
    UNIQUE (submission_id, number)
);

CREATE INDEX revision_pending_idx ON revision (received_at) WHERE verification_status = 'pending';

CREATE TABLE revision_signature (
    revision_id uuid NOT NULL REFERENCES revision (id),
    position    integer NOT NULL CHECK (position >= 0),
    cms         bytea NOT NULL,
    sha256      bytea NOT NULL CHECK (length(sha256) = 32),
    report      jsonb NOT NULL,
    PRIMARY KEY (revision_id, position)
);

CREATE TABLE attachment (
    revision_id uuid NOT NULL REFERENCES revision (id),
    field       text NOT NULL,
    filename    text NOT NULL,
    media_type  text NOT NULL,
    size        bigint NOT NULL CHECK (size >= 0),
    sha256      bytea NOT NULL CHECK (length(sha256) = 32),
    content     bytea NOT NULL,
    report      jsonb,
    PRIMARY KEY (revision_id, field)
);

CREATE TABLE submission_event (
    id            bigserial PRIMARY KEY,
    submission_id uuid NOT NULL REFERENCES submission (id),
    revision_id   uuid REFERENCES revision (id),
    kind          text NOT NULL,
    message       text,
    fields        jsonb,
    at            timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX submission_event_idx ON submission_event (submission_id, id);

CREATE TABLE idempotency (
    key            text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    request_sha256 bytea NOT NULL,
    status         integer NOT NULL,
    response       jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
