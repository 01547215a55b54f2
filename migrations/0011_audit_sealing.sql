-- The audit trail without a lock across application work. A transaction inserts its events
-- *unsealed*: an id from a sequence (seq), no place in the chain yet. One sealer at a time (an
-- advisory lock held only for its own short transaction) gives committed unsealed events, in id
-- order, the next places in the chain (position), each with prev_hash and hash. The chain is the
-- sealing order: it still shows any change, insertion, deletion or reordering of what was sealed.
-- The guard lets exactly one change happen to a row: its sealing.

ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change;

CREATE SEQUENCE audit_event_seq OWNED BY audit_event.seq;
SELECT setval('audit_event_seq', COALESCE((SELECT max(seq) FROM audit_event), 0) + 1, false);
ALTER TABLE audit_event ALTER COLUMN seq SET DEFAULT nextval('audit_event_seq');

ALTER TABLE audit_event ADD COLUMN position bigint UNIQUE CHECK (position >= 1);
-- Every event so far was sealed as it was written, at its seq.
UPDATE audit_event SET position = seq;
ALTER TABLE audit_event ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_sealed_whole
    CHECK ((position IS NULL) = (hash IS NULL) AND (hash IS NULL) = (prev_hash IS NULL));

CREATE INDEX audit_event_unsealed_idx ON audit_event (seq) WHERE position IS NULL;

CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.position IS NULL AND NEW.position IS NOT NULL
       AND (NEW.seq, NEW.at, NEW.actor, NEW.role, NEW.agency_code, NEW.action, NEW.subject, NEW.details)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.at, OLD.actor, OLD.role, OLD.agency_code, OLD.action, OLD.subject, OLD.details) THEN
        RETURN NEW;  -- sealing: the one change an event may undergo
    END IF;
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'integrity_constraint_violation';
END
$$;

ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change;
