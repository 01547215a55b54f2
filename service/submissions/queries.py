"""SQL for nonces, submissions, revisions and their parts."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, Final, LiteralString

import asyncpg
import msgspec

from service.catalog import policy
from service.catalog.schemas import DigitalPolicy, LegacyRequirements, PolicyOverride
from service.submissions.schemas import Status

INSERT_NONCE: Final[LiteralString] = """
    INSERT INTO nonce (nonce, form_version_id, expires_at) VALUES ($1, $2, now() + $3::interval)
    RETURNING nonce, issued_at, expires_at"""
CONSUME_NONCE: Final[LiteralString] = """
    UPDATE nonce SET consumed_at = now()
    WHERE nonce = $1 AND form_version_id = $2 AND consumed_at IS NULL AND expires_at > now()
    RETURNING issued_at"""
SELECT_NONCE: Final[LiteralString] = (
    "SELECT issued_at, expires_at, consumed_at, form_version_id FROM nonce WHERE nonce = $1"
)

PUBLISHED_VERSION: Final[LiteralString] = """
    SELECT v.id, v.version, v.status, v.schema, v.sha256, f.agency_code, f.procedure_id,
           p.paper, p.seal, p.in_person, p.override_signature, p.override_identity_proofing, p.override_reason,
           COALESCE(p.revocation, a.revocation) AS revocation
    FROM form_version v JOIN form f ON f.id = v.form_id JOIN procedure p ON p.id = f.procedure_id
    JOIN agency a ON a.code = f.agency_code
    WHERE v.form_id = $1 AND v.version = $2"""

#: What intake needs to know before it verifies, in one round trip: the form version the document
#: names (with its procedure's policy; the schema itself only when this process has not compiled
#: that version yet), when the nonce was issued if it is still usable, and an earlier submission of
#: the same bytes. Nothing is locked: the write (INSERT_REVISION) consumes the nonce atomically.
INTAKE_STATE: Final[LiteralString] = """
    SELECT v.id, v.version, v.status, CASE WHEN $5 THEN v.schema END AS schema, v.sha256, f.agency_code,
           f.procedure_id, p.paper, p.seal, p.in_person, p.override_signature, p.override_identity_proofing,
           p.override_reason, COALESCE(p.revocation, a.revocation) AS revocation,
           (SELECT n.issued_at FROM nonce n WHERE n.nonce = $3 AND n.form_version_id = v.id
                AND n.consumed_at IS NULL AND n.expires_at > now()) AS nonce_issued_at,
           (SELECT d.submission_id FROM revision d WHERE d.document_sha256 = $4) AS duplicate_of
    FROM form_version v JOIN form f ON f.id = v.form_id JOIN procedure p ON p.id = f.procedure_id
    JOIN agency a ON a.code = f.agency_code
    WHERE v.form_id = $1 AND v.version = $2"""
SELECT_SCHEMA: Final[LiteralString] = "SELECT schema FROM form_version WHERE id = $1"

#: A sequence per agency and year (migration 0014): no lock is held from here to COMMIT.
NEXT_RECEIPT_NUMBER: Final[LiteralString] = "SELECT next_receipt_number($1, $2)"

INSERT_EVENT: Final[LiteralString] = """
    INSERT INTO submission_event (submission_id, revision_id, kind, message, fields) VALUES ($1, $2, $3, $4, $5)"""

#: One round trip for everything a revision is: the nonce consumed (and nothing else written when it
#: was consumed meanwhile), the submission (when new; an amendment updates its open flags), the
#: revision, its signatures and time-stamp tokens, its attachments with their content (written
#: once), its timeline events, the audit event, the idempotency record, and the end of the draft it
#: was finalised from, if any. Foreign keys are checked
#: at the end of the statement, so the revision may reference the submission inserted beside it.
INSERT_REVISION: Final[LiteralString] = """
    WITH n AS (
        UPDATE nonce SET consumed_at = now()
        WHERE nonce = $5 AND form_version_id = $4 AND consumed_at IS NULL AND expires_at > now()
        RETURNING nonce
    ), s AS (
        INSERT INTO submission (id, agency_code, procedure_id, form_id, status, access_token_hash, signer_identity,
                                flags)
        SELECT $2, $16, $17, $18, 'received', $19, $20, $21 FROM n WHERE $19::bytea IS NOT NULL
    ), u AS (
        UPDATE submission SET flags = $21 WHERE id = $2 AND $19::bytea IS NULL AND EXISTS (SELECT 1 FROM n)
    ), r AS (
        INSERT INTO revision (id, submission_id, number, form_version_id, nonce, document, document_sha256,
                              received_at, verification_status, verification, flags, receipt_number,
                              receipt_json, receipt_cms, confirmed)
        SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM n
    ), g AS (
        INSERT INTO revision_signature (revision_id, position, cms, sha256, report, timestamp_token)
        SELECT $1, t.position - 1, t.cms, t.sha256, t.report, t.token
        FROM n, unnest($22::bytea[], $23::bytea[], $24::jsonb[], $25::bytea[])
             WITH ORDINALITY AS t(cms, sha256, report, token, position)
    ), f AS (
        INSERT INTO attachment (revision_id, field, filename, media_type, size, sha256, content, report)
        SELECT $1, t.field, t.filename, t.media_type, t.size, t.sha256, t.content, t.report::jsonb
        FROM n, unnest($27::text[], $28::text[], $29::text[], $30::bigint[], $31::bytea[], $32::bytea[],
                       $33::text[]) AS t(field, filename, media_type, size, sha256, content, report)
    ), e AS (
        INSERT INTO submission_event (submission_id, revision_id, kind)
        SELECT $2, $1, t.kind FROM n, unnest($26::text[]) WITH ORDINALITY AS t(kind, position) ORDER BY t.position
    ), a AS (
        INSERT INTO audit_event (at, actor, role, agency_code, action, subject, details)
        SELECT $8, 'applicant', 'applicant', $16, $34, $2::text, $35 FROM n
    ), i AS (
        INSERT INTO idempotency (key, request_sha256, status, response)
        SELECT $36, $37, 201, $38 FROM n WHERE $36::text IS NOT NULL
    ), d AS (
        -- A draft finalised with this nonce ends with its submission (and stays if intake fails).
        DELETE FROM draft WHERE id = (SELECT draft_id FROM draft_nonce WHERE nonce = $5) AND EXISTS (SELECT 1 FROM n)
    )
    SELECT count(*) FROM n"""
SELECT_SUBMISSION: Final[LiteralString] = """
    SELECT id, agency_code, procedure_id, form_id, status, access_token_hash, signer_identity, assignee
    FROM submission WHERE id = $1"""
LOCK_SUBMISSION: Final[LiteralString] = """
    SELECT id, agency_code, procedure_id, form_id, status, access_token_hash, signer_identity, assignee
    FROM submission WHERE id = $1 FOR UPDATE"""
SET_STATUS: Final[LiteralString] = "UPDATE submission SET status = $2, updated_at = now() WHERE id = $1"
SELECT_REVISIONS: Final[LiteralString] = """
    SELECT id, number, receipt_number, received_at, document_sha256, verification_status, verification, flags
    FROM revision WHERE submission_id = $1 ORDER BY number"""
SELECT_LATEST_REVISION: Final[LiteralString] = """
    SELECT id, number, document_sha256, receipt_number, receipt_json, receipt_cms, receipt_pdf
    FROM revision WHERE submission_id = $1 ORDER BY number DESC LIMIT 1"""
LATEST_FORM_VERSION: Final[LiteralString] = """
    SELECT form_version_id FROM revision WHERE submission_id = $1 ORDER BY number DESC LIMIT 1"""
SET_RECEIPT_PDF: Final[LiteralString] = "UPDATE revision SET receipt_pdf = $2 WHERE id = $1 AND receipt_pdf IS NULL"
ATTACHMENT_CONTENT: Final[LiteralString] = "SELECT content FROM attachment WHERE revision_id = $1 AND field = $2"
SELECT_EVENTS: Final[LiteralString] = """
    SELECT e.kind, e.at, e.message, e.fields, r.number AS revision
    FROM submission_event e LEFT JOIN revision r ON r.id = e.revision_id
    WHERE e.submission_id = $1 ORDER BY e.id"""

DECIDED: Final[LiteralString] = "SELECT EXISTS (SELECT 1 FROM decision WHERE submission_id = $1)"

SELECT_IDEMPOTENT: Final[LiteralString] = "SELECT request_sha256, status, response FROM idempotency WHERE key = $1"
INSERT_IDEMPOTENT: Final[LiteralString] = """
    INSERT INTO idempotency (key, request_sha256, status, response) VALUES ($1, $2, $3, $4)"""

#: Revisions whose signatures wait for revocation data, or passed and wait for confirmation (each
#: walks its own partial index), with what judging them again needs, their signatures included.
#: A purged revision has nothing left to judge (retention).
SELECT_UNSETTLED: Final[LiteralString] = """
    WITH due AS (
        (SELECT id FROM revision WHERE verification_status = 'pending' AND purged_at IS NULL
         ORDER BY received_at LIMIT $1)
        UNION ALL
        (SELECT id FROM revision WHERE verification_status = 'passed' AND NOT confirmed AND purged_at IS NULL
         ORDER BY received_at LIMIT $1)
    )
    SELECT r.id, r.submission_id, r.number, r.document, r.document_sha256, r.received_at, r.verification_status,
           r.flags, n.issued_at AS nonce_issued_at, v.schema, f.procedure_id, f.agency_code,
           p.paper, p.seal, p.in_person, p.override_signature, p.override_identity_proofing, p.override_reason,
           COALESCE(p.revocation, a.revocation) AS revocation,
           ARRAY(SELECT g.cms FROM revision_signature g WHERE g.revision_id = r.id ORDER BY g.position) AS signatures,
           ARRAY(SELECT g.timestamp_token FROM revision_signature g WHERE g.revision_id = r.id
                 ORDER BY g.position) AS tokens,
           NOT EXISTS (SELECT 1 FROM revision later WHERE later.submission_id = r.submission_id
                       AND later.number > r.number) AS latest
    FROM revision r JOIN due ON due.id = r.id JOIN nonce n ON n.nonce = r.nonce
    JOIN form_version v ON v.id = r.form_version_id JOIN form f ON f.id = v.form_id
    JOIN procedure p ON p.id = f.procedure_id JOIN agency a ON a.code = f.agency_code
    ORDER BY r.received_at FOR UPDATE OF r SKIP LOCKED"""
SELECT_RECEIPT_PROCEDURE_NAME: Final[LiteralString] = """
    SELECT p.name_ja FROM revision r
    JOIN submission s ON s.id = r.submission_id JOIN procedure p ON p.id = s.procedure_id
    WHERE r.receipt_number = $1"""
SELECT_RECEIPT_SIGNER_REPORTS: Final[LiteralString] = """
    SELECT rs.report FROM revision_signature rs JOIN revision r ON r.id = rs.revision_id
    WHERE r.receipt_number = $1 ORDER BY rs.position LIMIT $2"""
#: Every outcome of one re-verification batch (``reverify.Settled``, in its field order, then the
#: statuses a failure may leave and the time): verdicts and reports, each application's open flags
#: and, where a signature now fails and the state machine allows it, the move to
#: ``signature_invalid``; their timeline and audit events. The applications are locked in the
#: statement itself, so a concurrent decision either sees the move or waits for it.
SETTLE_REVISIONS: Final[LiteralString] = """
    WITH v AS (
        UPDATE revision r SET verification_status = t.status, verification = t.verification, confirmed = t.confirmed
        FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::boolean[]) AS t(id, status, verification, confirmed)
        WHERE r.id = t.id
    ), g AS (
        UPDATE revision_signature g SET report = x.report
        FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)
        JOIN jsonb_array_elements($5::jsonb) WITH ORDINALITY AS r(reports, n) ON r.n = t.n,
             jsonb_array_elements(r.reports) WITH ORDINALITY AS x(report, position)
        WHERE g.revision_id = t.id AND g.position = x.position - 1
    ), old AS (
        SELECT s.id, s.status, s.agency_code, f.flags, t.failed, t.detail, t.revision_id
        FROM submission s
        JOIN unnest($6::uuid[], $8::boolean[], $9::text[], $10::uuid[]) WITH ORDINALITY
             AS t(id, failed, detail, revision_id, n) ON t.id = s.id
        JOIN jsonb_array_elements($7::jsonb) WITH ORDINALITY AS f(flags, n) ON f.n = t.n
        FOR UPDATE OF s
    ), s AS (
        UPDATE submission s
        SET flags = CASE WHEN jsonb_typeof(old.flags) = 'null' THEN s.flags
                         ELSE ARRAY(SELECT jsonb_array_elements_text(old.flags)) END,
            status = CASE WHEN old.failed AND old.status = ANY($18::text[]) THEN 'signature_invalid' ELSE s.status END,
            updated_at = CASE WHEN old.failed AND old.status = ANY($18::text[]) THEN now() ELSE s.updated_at END
        FROM old WHERE s.id = old.id
        RETURNING s.id, s.status, old.status AS was, old.agency_code, old.failed, old.detail, old.revision_id
    ), e AS (
        INSERT INTO submission_event (submission_id, revision_id, kind, message)
        SELECT t.submission_id, t.revision_id, t.kind, NULL
        FROM unnest($11::uuid[], $12::uuid[], $13::text[]) AS t(submission_id, revision_id, kind)
        UNION ALL
        SELECT s.id, s.revision_id, 'signature_invalid', s.detail FROM s WHERE s.failed
    ), a AS (
        INSERT INTO audit_event (at, actor, role, agency_code, action, subject, details)
        SELECT $19::timestamptz, 'system', 'system', t.agency, t.action, t.subject, d.details
        FROM unnest($14::text[], $15::text[], $16::text[]) WITH ORDINALITY AS t(agency, action, subject, n)
        JOIN jsonb_array_elements($17::jsonb) WITH ORDINALITY AS d(details, n) ON d.n = t.n
        UNION ALL
        SELECT $19, 'system', 'system', s.agency_code, 'submission.signature_invalid', s.id::text,
               jsonb_build_object('from', s.was, 'to', s.status)
        FROM s WHERE s.failed
    )
    SELECT count(*) FROM s"""


class VersionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    version: int
    status: str
    schema: dict[str, Any] | None
    """None where intake did not ask for it (this process has the version compiled already)."""
    sha256: bytes | None
    agency_code: str
    procedure_id: str
    paper: bool
    seal: str
    in_person: bool
    override_signature: str | None
    override_identity_proofing: bool | None
    override_reason: str | None
    revocation: str = "current"
    """``confirmed``: revocation data issued after the signature is needed before approval."""

    def digital_policy(self) -> DigitalPolicy:
        return digital_policy(msgspec.structs.asdict(self))


def digital_policy(row: Mapping[str, Any] | asyncpg.Record) -> DigitalPolicy:
    """A procedure's policy from its catalogue columns, by the catalogue's one rule (``catalog.policy``)."""
    legacy = msgspec.convert(
        {"paper": row["paper"], "seal": row["seal"], "in_person": row["in_person"]}, LegacyRequirements
    )
    override = None
    if row["override_signature"] is not None:
        override = msgspec.convert(
            {
                "signature": row["override_signature"],
                "identity_proofing": bool(row["override_identity_proofing"]),
                "reason": row["override_reason"] or "",
            },
            PolicyOverride,
        )
    return policy.effective(legacy, override)


class SubmissionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    agency_code: str
    procedure_id: str
    form_id: str
    status: Status
    """The database's CHECK constraint keeps it one of these."""
    access_token_hash: bytes
    signer_identity: list[dict[str, Any]]
    assignee: uuid.UUID | None = None


async def receipt_procedure_name(conn: asyncpg.Connection, receipt_number: str) -> str | None:
    """The Japanese name of the procedure applied for in the revision a receipt acknowledged."""
    name: str | None = await conn.fetchval(SELECT_RECEIPT_PROCEDURE_NAME, receipt_number)
    return name


async def receipt_signer_reports(conn: asyncpg.Connection, receipt_number: str, limit: int = 100) -> list[Any]:
    """The verification reports of that revision's signatures, in the order they were received."""
    return [row["report"] for row in await conn.fetch(SELECT_RECEIPT_SIGNER_REPORTS, receipt_number, limit)]


async def form_version(conn: asyncpg.Connection, form_id: str, number: int) -> VersionRow | None:
    row = await conn.fetchrow(PUBLISHED_VERSION, form_id, number)
    return None if row is None else VersionRow(**dict(row))


async def insert_nonce(
    conn: asyncpg.Connection, nonce: str, version_id: uuid.UUID, lifetime: dt.timedelta
) -> asyncpg.Record:
    row = await conn.fetchrow(INSERT_NONCE, nonce, version_id, lifetime)
    assert row is not None  # RETURNING always yields a row
    return row


async def consume_nonce(conn: asyncpg.Connection, nonce: str, version_id: uuid.UUID) -> dt.datetime | None:
    issued: dt.datetime | None = await conn.fetchval(CONSUME_NONCE, nonce, version_id)
    return issued


class IntakeState(msgspec.Struct, frozen=True, kw_only=True):
    version: VersionRow
    nonce_issued_at: dt.datetime | None
    """None: the nonce is unknown, used, expired or for another version."""
    duplicate_of: uuid.UUID | None


async def intake_state(
    conn: asyncpg.Connection, form_id: str, number: int, nonce: str | None, document_sha256: bytes, *, schema: bool
) -> IntakeState | None:
    row = await conn.fetchrow(INTAKE_STATE, form_id, number, nonce, document_sha256, schema)
    if row is None:
        return None
    values = dict(row)
    issued, duplicate = values.pop("nonce_issued_at"), values.pop("duplicate_of")
    return IntakeState(version=VersionRow(**values), nonce_issued_at=issued, duplicate_of=duplicate)


async def version_schema(conn: asyncpg.Connection, version_id: uuid.UUID) -> dict[str, Any]:
    found: dict[str, Any] = await conn.fetchval(SELECT_SCHEMA, version_id)
    return found


async def next_receipt_number(conn: asyncpg.Connection, agency: str, year: int) -> int:
    number: int = await conn.fetchval(NEXT_RECEIPT_NUMBER, agency, year)
    return number


class NewRevision(msgspec.Struct, frozen=True, kw_only=True):
    """Every row of one revision, as INSERT_REVISION writes them (its parameters, in order)."""

    revision_id: uuid.UUID
    submission_id: uuid.UUID
    number: int
    form_version_id: uuid.UUID
    nonce: str
    document: bytes
    document_sha256: bytes
    received_at: dt.datetime
    verification_status: str
    verification: dict[str, Any]
    binding_flags: list[str]
    receipt_number: str
    receipt_json: bytes
    receipt_cms: bytes
    confirmed: bool
    agency_code: str
    procedure_id: str
    form_id: str
    access_token_hash: bytes | None
    """Set for a new submission; None for an amendment (the submission exists)."""
    signer_identity: list[dict[str, Any]] | None
    open_flags: list[str]
    signatures: list[bytes]
    signature_sha256: list[bytes]
    reports: list[dict[str, Any]]
    timestamp_tokens: list[bytes | None]
    events: list[str]
    attachment_fields: list[str]
    attachment_filenames: list[str]
    attachment_media_types: list[str]
    attachment_sizes: list[int]
    attachment_sha256: list[bytes]
    attachment_contents: list[bytes]
    attachment_reports: list[str | None]
    """Each file's own signatures as JSON text (a JSON list: as jsonb[] it would read as a 2-D array)."""
    audit_action: str
    audit_details: dict[str, Any]
    idempotency_key: str | None
    idempotency_request_sha256: bytes
    response: dict[str, Any] | None


async def insert_revision(conn: asyncpg.Connection, new: NewRevision) -> bool:
    """Write it all; False (and nothing written) when its nonce was consumed by someone else meanwhile."""
    values = [getattr(new, name) for name in new.__struct_fields__]
    consumed: int = await conn.fetchval(INSERT_REVISION, *values)
    return consumed == 1


async def submission(conn: asyncpg.Connection, submission_id: uuid.UUID, *, lock: bool = False) -> SubmissionRow | None:
    row = await conn.fetchrow(LOCK_SUBMISSION if lock else SELECT_SUBMISSION, submission_id)
    return None if row is None else SubmissionRow(**dict(row))


async def event(
    conn: asyncpg.Connection,
    submission_id: uuid.UUID,
    revision_id: uuid.UUID | None,
    kind: str,
    message: str | None = None,
    fields: list[str] | None = None,
) -> None:
    await conn.execute(INSERT_EVENT, submission_id, revision_id, kind, message, fields)


async def latest_form_version(conn: asyncpg.Connection, submission_id: uuid.UUID) -> uuid.UUID:
    """The form version of the newest revision: withdrawals and amendments are signed against it."""
    version_id: uuid.UUID = await conn.fetchval(LATEST_FORM_VERSION, submission_id)
    return version_id


async def decided(conn: asyncpg.Connection, submission_id: uuid.UUID) -> bool:
    """Whether the agency has issued a decision notice (approve or reject)."""
    found: bool = await conn.fetchval(DECIDED, submission_id)
    return found


async def attachment_content(conn: asyncpg.Connection, revision_id: uuid.UUID, field: str) -> bytes | None:
    content: bytes | None = await conn.fetchval(ATTACHMENT_CONTENT, revision_id, field)
    return content
