-- Forms and their versions. A draft is editable; publishing freezes it (canonical bytes + SHA-256);
-- retiring stops new submissions but keeps it readable. The database itself refuses to change a
-- published version, whatever the application does.

CREATE TABLE form (
    id           text PRIMARY KEY CHECK (id ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(id) <= 80),
    agency_code  text NOT NULL REFERENCES agency (code),
    procedure_id text NOT NULL REFERENCES procedure (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX form_agency_idx ON form (agency_code, id);
CREATE INDEX form_procedure_idx ON form (procedure_id, id);

CREATE TABLE form_version (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    form_id      text NOT NULL REFERENCES form (id),
    version      integer NOT NULL CHECK (version >= 1),
    status       text NOT NULL CHECK (status IN ('draft', 'published', 'retired')),
    schema       jsonb NOT NULL,
    canonical    bytea,
    sha256       bytea CHECK (length(sha256) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    retired_at   timestamptz,
    UNIQUE (form_id, version),
    CHECK ((status = 'draft') = (canonical IS NULL)),
    CHECK ((status = 'draft') = (sha256 IS NULL)),
    CHECK ((status = 'draft') = (published_at IS NULL)),
    CHECK ((status = 'retired') = (retired_at IS NOT NULL))
);

CREATE UNIQUE INDEX form_version_one_draft_idx ON form_version (form_id) WHERE status = 'draft';

CREATE FUNCTION form_version_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'form version %/% is published: it cannot be deleted', OLD.form_id, OLD.version
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' AND (
           NEW.schema IS DISTINCT FROM OLD.schema
        OR NEW.canonical IS DISTINCT FROM OLD.canonical
        OR NEW.sha256 IS DISTINCT FROM OLD.sha256
        OR NEW.form_id IS DISTINCT FROM OLD.form_id
        OR NEW.version IS DISTINCT FROM OLD.version
        OR NEW.published_at IS DISTINCT FROM OLD.published_at
        OR NEW.status = 'draft'
        OR (OLD.status = 'retired' AND NEW.retired_at IS DISTINCT FROM OLD.retired_at)) THEN
        RAISE EXCEPTION 'form version %/% is published: it is immutable', OLD.form_id, OLD.version
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER form_version_immutable
    BEFORE UPDATE OR DELETE ON form_version
    FOR EACH ROW EXECUTE FUNCTION form_version_guard();
