-- The back office's view of shinsei: a transactional outbox of public events, the feed that pages
-- through it, and Standard Webhooks endpoints with their deliveries.
--
-- Events are written by triggers, in the transaction of the change they describe:
--   * every state change of an application already writes a timeline row (submission_event) in its
--     own transaction, intake's included (inside INSERT_REVISION's one statement); a trigger on it
--     maps the timeline's kinds to the public event types. Intake keeps its one round trip.
--   * a form version's status change (draft -> published, published -> retired), whichever path
--     makes it (the API, `shinsei forms publish`, the sample loader).
-- A trigger on the outbox fans each event out to the agency's active endpoints that asked for its
-- type, so a delivery exists exactly when its event committed.

CREATE TABLE outbox_event (
    -- Order of writing; with txid, the feed's keyset (see below).
    id            bigserial PRIMARY KEY,
    -- The public id: the feed item's `id` and every delivery's `webhook-id` (receivers dedupe on it).
    event_id      uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    -- The writing transaction. Sequence values are taken before commit, so a reader paging by id
    -- alone could pass an id whose transaction commits later and never see it. The feed orders by
    -- (txid, id) and shows only transactions older than every one still running
    -- (pg_snapshot_xmin): whatever commits later has a larger txid than anything already shown.
    txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    agency_code   text NOT NULL REFERENCES agency (code),
    type          text NOT NULL CHECK (type IN (
                      'submission.received', 'submission.amended', 'submission.withdrawn', 'submission.purged',
                      'signature.confirmed', 'signature.invalid', 'decision.made', 'correction.requested',
                      'form.published', 'form.retired')),
    -- What deliveries are ordered by: the submission's id, or 'form:<form id>'.
    subject       text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    -- No foreign key: an event outlives what it describes (a purged application keeps its events).
    submission_id uuid,
    -- Ids, receipt number, procedure, status and links only: never answers or personal data.
    payload       jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    occurred_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX outbox_event_feed_idx ON outbox_event (agency_code, txid, id);
CREATE INDEX outbox_event_all_feed_idx ON outbox_event (txid, id);

CREATE FUNCTION outbox_submission_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event_type text;
    s          record;
    r          record;
    data       jsonb;
BEGIN
    event_type := CASE NEW.kind
        WHEN 'received' THEN 'submission.received'
        WHEN 'amended' THEN 'submission.amended'
        WHEN 'withdrawn' THEN 'submission.withdrawn'
        WHEN 'purged' THEN 'submission.purged'
        -- Both say "the signatures of this revision are now good": pending -> passed, or passed and
        -- confirmed by revocation data issued after signing. One event per revision and transaction.
        WHEN 'verification_passed' THEN 'signature.confirmed'
        WHEN 'signature_confirmed' THEN 'signature.confirmed'
        WHEN 'signature_invalid' THEN 'signature.invalid'
        WHEN 'approved' THEN 'decision.made'
        WHEN 'rejected' THEN 'decision.made'
        WHEN 'correction_requested' THEN 'correction.requested'
    END;
    IF event_type IS NULL THEN
        RETURN NULL;  -- a timeline entry of no public interest (verification_pending)
    END IF;
    IF event_type = 'signature.confirmed' AND EXISTS (
        SELECT 1 FROM outbox_event o
        WHERE o.txid = pg_current_xact_id() AND o.subject = NEW.submission_id::text
          AND o.type = 'signature.confirmed' AND o.payload ->> 'revision_id' = NEW.revision_id::text) THEN
        RETURN NULL;
    END IF;
    SELECT id, agency_code, procedure_id, form_id, status INTO s FROM submission WHERE id = NEW.submission_id;
    IF NEW.revision_id IS NOT NULL THEN
        SELECT id, number, receipt_number, verification_status, confirmed INTO r FROM revision
        WHERE id = NEW.revision_id;
    ELSE  -- a withdrawal (or a purge) concerns the application: its latest revision
        SELECT id, number, receipt_number, verification_status, confirmed INTO r FROM revision
        WHERE submission_id = NEW.submission_id ORDER BY number DESC LIMIT 1;
    END IF;
    data := jsonb_build_object(
        'submission_id', s.id,
        'revision_id', r.id,
        'revision', r.number,
        'receipt_number', r.receipt_number,
        'agency', s.agency_code,
        'procedure_id', s.procedure_id,
        'form_id', s.form_id,
        'status', s.status,
        'links', jsonb_build_object('submission', '/api/v1/submissions/' || s.id));
    IF event_type IN ('signature.confirmed', 'signature.invalid', 'submission.received', 'submission.amended') THEN
        data := data || jsonb_build_object(
            'verification', jsonb_build_object('status', r.verification_status, 'confirmed', r.confirmed));
    END IF;
    IF event_type = 'decision.made' THEN
        data := data || jsonb_build_object(
            'decision', NEW.kind,
            'links', data -> 'links' || jsonb_build_object(
                'decision_notice', '/api/v1/submissions/' || s.id || '/decision-notice.json'));
    END IF;
    INSERT INTO outbox_event (agency_code, type, subject, submission_id, payload, occurred_at)
    VALUES (s.agency_code, event_type, s.id::text, s.id, jsonb_strip_nulls(data), NEW.at);
    RETURN NULL;
END
$$;

CREATE TRIGGER submission_event_outbox
    AFTER INSERT ON submission_event
    FOR EACH ROW EXECUTE FUNCTION outbox_submission_event();

CREATE FUNCTION outbox_form_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    f record;
BEGIN
    IF NEW.status IS NOT DISTINCT FROM OLD.status OR NEW.status NOT IN ('published', 'retired') THEN
        RETURN NULL;
    END IF;
    SELECT id, agency_code, procedure_id INTO f FROM form WHERE id = NEW.form_id;
    INSERT INTO outbox_event (agency_code, type, subject, payload)
    VALUES (f.agency_code, 'form.' || NEW.status, 'form:' || f.id, jsonb_build_object(
        'form_id', f.id,
        'version', NEW.version,
        'agency', f.agency_code,
        'procedure_id', f.procedure_id,
        'status', NEW.status,
        'sha256', encode(NEW.sha256, 'hex'),
        'links', jsonb_build_object('form_version', '/api/v1/forms/' || f.id || '/versions/' || NEW.version)));
    RETURN NULL;
END
$$;

CREATE TRIGGER form_version_outbox
    AFTER UPDATE OF status ON form_version
    FOR EACH ROW EXECUTE FUNCTION outbox_form_version();

-- An agency's receiving endpoint. The secret is kept as issued (whsec_ + base64 of 32 random
-- bytes): it is an HMAC key shinsei must hold to sign, so a hash would be useless. What it protects
-- is small by design: a delivery carries ids and links only, and the receiver fetches everything
-- else with its own token. During a rotation the previous secret also signs, until it expires.
CREATE TABLE webhook_endpoint (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agency_code          text NOT NULL REFERENCES agency (code),
    url                  text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    event_types          text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 20),
    active               boolean NOT NULL DEFAULT true,
    description          text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    secret               text NOT NULL,
    previous_secret      text,
    previous_expires_at  timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((previous_secret IS NULL) = (previous_expires_at IS NULL))
);

CREATE INDEX webhook_endpoint_agency_idx ON webhook_endpoint (agency_code, created_at, id);

-- One event for one endpoint. At least once: `pending` until a 2xx (`delivered`) or the last
-- attempt (`dead`). A worker claims it by moving next_attempt_at past the attempt (a lease): one
-- that dies mid-way leaves it to be claimed again when the lease ends.
CREATE TABLE webhook_delivery (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoint (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL REFERENCES outbox_event (id),
    subject         text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text CHECK (length(last_error) <= 500),
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);

-- The claim: due pending deliveries, and the earlier pending one of the same subject (order).
CREATE INDEX webhook_delivery_due_idx ON webhook_delivery (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_delivery_order_idx ON webhook_delivery (endpoint_id, subject, event_id) WHERE state = 'pending';
CREATE INDEX webhook_delivery_history_idx ON webhook_delivery (endpoint_id, event_id);

CREATE TABLE webhook_attempt (
    id          bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES webhook_delivery (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    status      integer,
    error       text CHECK (length(error) <= 500),
    duration_ms integer NOT NULL CHECK (duration_ms >= 0)
);

CREATE INDEX webhook_attempt_delivery_idx ON webhook_attempt (delivery_id, id);

CREATE FUNCTION outbox_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_delivery (endpoint_id, event_id, subject)
    SELECT e.id, NEW.id, NEW.subject FROM webhook_endpoint e
    WHERE e.agency_code = NEW.agency_code AND e.active AND NEW.type = ANY (e.event_types);
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_event_fan_out
    AFTER INSERT ON outbox_event
    FOR EACH ROW EXECUTE FUNCTION outbox_fan_out();
