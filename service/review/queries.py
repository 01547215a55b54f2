"""SQL of clerk review. Every list carries a limit; the agency check is the service's, on the row read here."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, LiteralString

import asyncpg
import msgspec

from service.submissions.schemas import Status

#: Upper bounds of the lists inside one submission view (far above any real application).
MAX_REVISIONS: Final = 200
MAX_COMMENTS: Final = 1000
MAX_AUDIT: Final = 1000

SELECT_SUBMISSION: Final[LiteralString] = """
    SELECT s.id, s.agency_code, s.procedure_id, p.name_ja AS procedure_name, s.form_id, s.status, s.assignee,
           s.created_at, s.first_opened_at, s.flags
    FROM submission s JOIN procedure p ON p.id = s.procedure_id
    WHERE s.id = $1"""
LOCK_SUBMISSION: Final[LiteralString] = """
    SELECT id, agency_code, status, assignee FROM submission WHERE id = $1 FOR UPDATE"""
MARK_OPENED: Final[LiteralString] = """
    UPDATE submission SET first_opened_at = $2 WHERE id = $1 AND first_opened_at IS NULL RETURNING first_opened_at"""
SET_ASSIGNMENT: Final[LiteralString] = """
    UPDATE submission SET status = $2, assignee = $3, updated_at = now() WHERE id = $1"""
ACTIVE_CLERK: Final[LiteralString] = """
    SELECT id FROM api_token WHERE id = $1 AND role = 'clerk' AND agency_code = $2 AND revoked_at IS NULL"""

SELECT_REVISIONS: Final[LiteralString] = """
    SELECT r.id, r.number, r.receipt_number, r.received_at, r.document, r.document_sha256, r.verification_status,
           r.verification, r.flags, r.receipt_json, r.receipt_cms, r.receipt_pdf, r.nonce,
           v.version AS form_version, v.schema
    FROM revision r JOIN form_version v ON v.id = r.form_version_id
    WHERE r.submission_id = $1 ORDER BY r.number LIMIT $2"""
SELECT_LATEST: Final[LiteralString] = """
    SELECT r.id, r.number, r.receipt_number, r.document_sha256, r.verification_status, v.version AS form_version,
           v.schema
    FROM revision r JOIN form_version v ON v.id = r.form_version_id
    WHERE r.submission_id = $1 ORDER BY r.number DESC LIMIT 1"""
SELECT_SIGNATURES: Final[LiteralString] = """
    SELECT revision_id, position, cms, sha256, report, timestamp_token FROM revision_signature
    WHERE revision_id = ANY($1::uuid[]) ORDER BY revision_id, position"""
SELECT_ATTACHMENTS: Final[LiteralString] = """
    SELECT revision_id, field, filename, media_type, size, sha256, report FROM attachment
    WHERE revision_id = ANY($1::uuid[]) ORDER BY revision_id, field"""
SELECT_ATTACHMENT_BY_DIGEST: Final[LiteralString] = """
    SELECT a.revision_id, a.field, a.filename, a.media_type, a.size
    FROM attachment a JOIN revision r ON r.id = a.revision_id
    WHERE r.submission_id = $1 AND a.sha256 = $2
    ORDER BY r.number DESC LIMIT 1"""
SELECT_COMMENTS: Final[LiteralString] = """
    SELECT id, author, role, body, at FROM comment WHERE submission_id = $1 ORDER BY id LIMIT $2"""
INSERT_COMMENT: Final[LiteralString] = """
    INSERT INTO comment (submission_id, author, role, body) VALUES ($1, $2, $3, $4)
    RETURNING id, author, role, body, at"""
SELECT_AUDIT: Final[LiteralString] = """
    SELECT seq, at, actor, role, action, details FROM audit_event WHERE subject = $1 ORDER BY seq LIMIT $2"""

INSERT_DECISION: Final[LiteralString] = """
    INSERT INTO decision (submission_id, revision_id, decision, notice_number, decided_by, decided_at,
                          notice_json, notice_cms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"""
SET_NOTICE_PDF: Final[LiteralString] = """
    UPDATE decision SET notice_pdf = $2 WHERE submission_id = $1 AND notice_pdf IS NULL"""
SELECT_DECISION: Final[LiteralString] = """
    SELECT decision, notice_number, decided_at, notice_json, notice_cms, notice_pdf FROM decision
    WHERE submission_id = $1"""


async def submission(conn: asyncpg.Connection, submission_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_SUBMISSION, submission_id)


class Locked(msgspec.Struct, frozen=True, kw_only=True):
    """An application locked for a staff action: what the action checks."""

    id: uuid.UUID
    agency_code: str
    status: Status
    """The database's CHECK constraint keeps it one of these."""
    assignee: uuid.UUID | None


async def lock(conn: asyncpg.Connection, submission_id: uuid.UUID) -> Locked | None:
    row = await conn.fetchrow(LOCK_SUBMISSION, submission_id)
    return None if row is None else Locked(**dict(row))


async def mark_opened(conn: asyncpg.Connection, submission_id: uuid.UUID, at: dt.datetime) -> dt.datetime | None:
    """The first opening's time, or None when a clerk had opened it before."""
    opened: dt.datetime | None = await conn.fetchval(MARK_OPENED, submission_id, at)
    return opened


async def set_assignment(
    conn: asyncpg.Connection, submission_id: uuid.UUID, status: str, assignee: uuid.UUID | None
) -> None:
    await conn.execute(SET_ASSIGNMENT, submission_id, status, assignee)


async def is_active_clerk(conn: asyncpg.Connection, token_id: uuid.UUID, agency: str) -> bool:
    return await conn.fetchval(ACTIVE_CLERK, token_id, agency) is not None


async def revisions(conn: asyncpg.Connection, submission_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_REVISIONS, submission_id, MAX_REVISIONS))


class Latest(msgspec.Struct, frozen=True, kw_only=True):
    """The revision a decision is about: the newest one."""

    id: uuid.UUID
    number: int
    receipt_number: str
    document_sha256: bytes
    verification_status: str
    form_version: int
    schema: dict[str, Any]


async def latest(conn: asyncpg.Connection, submission_id: uuid.UUID) -> Latest:
    row = await conn.fetchrow(SELECT_LATEST, submission_id)
    assert row is not None  # a submission always has a first revision
    return Latest(**dict(row))


async def signatures(conn: asyncpg.Connection, revision_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_SIGNATURES, revision_ids))


async def attachments(conn: asyncpg.Connection, revision_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_ATTACHMENTS, revision_ids))


async def attachment_by_digest(
    conn: asyncpg.Connection, submission_id: uuid.UUID, sha256: bytes
) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_ATTACHMENT_BY_DIGEST, submission_id, sha256)


async def comments(conn: asyncpg.Connection, submission_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_COMMENTS, submission_id, MAX_COMMENTS))


async def insert_comment(
    conn: asyncpg.Connection, submission_id: uuid.UUID, author: uuid.UUID, role: str, body: str
) -> asyncpg.Record:
    row = await conn.fetchrow(INSERT_COMMENT, submission_id, author, role, body)
    assert row is not None  # RETURNING always yields a row
    return row


async def audit(conn: asyncpg.Connection, subject: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_AUDIT, subject, MAX_AUDIT))


class NewDecision(msgspec.Struct, frozen=True, kw_only=True):
    """A decision with its signed notice, as INSERT_DECISION writes it (its parameters, in order)."""

    submission_id: uuid.UUID
    revision_id: uuid.UUID
    decision: str
    notice_number: str
    decided_by: uuid.UUID
    decided_at: dt.datetime
    notice_json: bytes
    notice_cms: bytes


async def insert_decision(conn: asyncpg.Connection, new: NewDecision) -> None:
    await conn.execute(INSERT_DECISION, *(getattr(new, name) for name in new.__struct_fields__))


async def decision(conn: asyncpg.Connection, submission_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_DECISION, submission_id)


async def set_notice_pdf(conn: asyncpg.Connection, submission_id: uuid.UUID, pdf: bytes) -> None:
    await conn.execute(SET_NOTICE_PDF, submission_id, pdf)


#: The revocation data a verdict used, found again by what the report records of it.
CRL_USED: Final[LiteralString] = """
    SELECT crl FROM trust_crl WHERE issuer_key_id = $1 AND this_update = $2 ORDER BY created_at LIMIT 1"""
OCSP_USED: Final[LiteralString] = """
    SELECT response FROM trust_ocsp WHERE issuer_key_id = $1 AND serial = $2 AND this_update = $3
    ORDER BY created_at LIMIT 1"""
