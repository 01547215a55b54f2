-- Retention (保存期間) and purge. A government keeps an application's documents for the period its
-- retention schedule sets (公文書管理法 and each agency's 行政文書管理規則), then deletes the personal
-- data and keeps the evidence that the process was followed: a tombstone with the receipt numbers,
-- the procedure, the dates, the final status and the SHA-256 of every object that was deleted.
--
-- The rule: a procedure's own (catalogue `retention`, set from its legal basis), else its agency's.
-- The real periods come from the agency's retention schedule (保存期間表 of its 行政文書管理規則, under
-- 公文書管理法 and its 施行令); five years from the decision is only the default of an agency that
-- states none. A period counts from 1 April after the date (起算日: the next fiscal year's first day).

ALTER TABLE agency
    ADD COLUMN retention_years integer NOT NULL DEFAULT 5 CHECK (retention_years BETWEEN 1 AND 100),
    ADD COLUMN retention_from text NOT NULL DEFAULT 'decided' CHECK (retention_from IN ('decided', 'received'));

-- NULL: the agency's rule.
ALTER TABLE procedure
    ADD COLUMN retention_years integer CHECK (retention_years BETWEEN 1 AND 100),
    ADD COLUMN retention_from text CHECK (retention_from IN ('decided', 'received')),
    ADD CONSTRAINT procedure_retention_whole CHECK ((retention_years IS NULL) = (retention_from IS NULL));

-- The end of a period: `years` after the 1 April (Japan time) that follows `start`, the 起算日 of an
-- administrative document being the first day of the fiscal year after the one it was made in.
CREATE FUNCTION retention_until(start timestamptz, years integer) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT make_timestamptz(
        extract(year FROM (start AT TIME ZONE 'Asia/Tokyo') - interval '3 months')::integer + 1 + years,
        4, 1, 0, 0, 0, 'Asia/Tokyo')
$$;

-- A legal hold (訴訟ホールド) keeps an application past its retention until it is released. Holds are
-- kept after release (who placed and released which, when, why); at most one is active at a time.
CREATE TABLE legal_hold (
    id            bigserial PRIMARY KEY,
    submission_id uuid NOT NULL REFERENCES submission (id),
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    placed_by     uuid NOT NULL REFERENCES api_token (id),
    placed_at     timestamptz NOT NULL,
    released_by   uuid REFERENCES api_token (id),
    released_at   timestamptz,
    CHECK ((released_by IS NULL) = (released_at IS NULL)),
    CHECK (released_at IS NULL OR released_at >= placed_at)
);

CREATE UNIQUE INDEX legal_hold_active_idx ON legal_hold (submission_id) WHERE released_at IS NULL;
CREATE INDEX legal_hold_submission_idx ON legal_hold (submission_id, id);

-- A purged application keeps its rows (the receipt numbers stay taken, the timeline keeps its dates)
-- without their content: the document, the receipts and the notice go, and nothing else may.
ALTER TABLE submission ADD COLUMN purged_at timestamptz;
ALTER TABLE revision
    ADD COLUMN purged_at timestamptz,
    ALTER COLUMN document DROP NOT NULL,
    ALTER COLUMN receipt_json DROP NOT NULL,
    ALTER COLUMN receipt_cms DROP NOT NULL,
    ADD CONSTRAINT revision_content_whole
        CHECK (purged_at IS NOT NULL OR (document IS NOT NULL AND receipt_json IS NOT NULL AND receipt_cms IS NOT NULL));
ALTER TABLE decision
    ALTER COLUMN notice_json DROP NOT NULL,
    ALTER COLUMN notice_cms DROP NOT NULL,
    ADD CONSTRAINT decision_notice_whole CHECK ((notice_json IS NULL) = (notice_cms IS NULL));

-- What the retention run walks: closed applications not yet purged, oldest first. Every rule is at
-- least a year from receipt, so the run reads only the rows received a year or more before.
CREATE INDEX submission_retention_idx ON submission (created_at, id)
    WHERE purged_at IS NULL AND status IN ('approved', 'rejected', 'withdrawn');

CREATE TABLE submission_tombstone (
    submission_id    uuid PRIMARY KEY REFERENCES submission (id),
    agency_code      text NOT NULL REFERENCES agency (code),
    procedure_id     text NOT NULL REFERENCES procedure (id),
    status           text NOT NULL CHECK (status IN ('approved', 'rejected', 'withdrawn')),
    receipt_numbers  text[] NOT NULL CHECK (cardinality(receipt_numbers) >= 1),
    received_at      timestamptz NOT NULL,
    closed_at        timestamptz NOT NULL,
    retention_years  integer NOT NULL,
    retention_from   text NOT NULL CHECK (retention_from IN ('decided', 'received')),
    retention_source text NOT NULL CHECK (retention_source IN ('procedure', 'agency')),
    retain_until     timestamptz NOT NULL,
    purged_at        timestamptz NOT NULL CHECK (purged_at >= retain_until),
    -- [{kind, revision, name, sha256, size}]: every object deleted, by its SHA-256.
    objects          jsonb NOT NULL CHECK (jsonb_typeof(objects) = 'array'),
    -- SHA-256 of the canonical tombstone; the audit event of the purge carries it into the chain.
    sha256           bytea NOT NULL CHECK (length(sha256) = 32)
);

CREATE FUNCTION submission_tombstone_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tombstones are immutable' USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER submission_tombstone_no_change BEFORE UPDATE OR DELETE ON submission_tombstone
    FOR EACH ROW EXECUTE FUNCTION submission_tombstone_immutable();
