"""SQL for the agencies' wrapped data keys."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, LiteralString

import asyncpg
import msgspec


class KeyRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    agency_code: str
    master_key_id: str
    wrapped: bytes


_COLUMNS: Final = "id, agency_code, master_key_id, wrapped"

SELECT_KEY: Final[LiteralString] = f"""
    SELECT {_COLUMNS} FROM my_number_key WHERE id = $1 AND agency_code = $2"""  # noqa: S608 - constant columns
SELECT_CURRENT_KEY: Final[LiteralString] = f"""
    SELECT {_COLUMNS} FROM my_number_key WHERE agency_code = $1 AND retired_at IS NULL"""  # noqa: S608
INSERT_KEY: Final[LiteralString] = f"""
    INSERT INTO my_number_key (id, agency_code, master_key_id, wrapped) VALUES ($1, $2, $3, $4)
    ON CONFLICT (agency_code) WHERE retired_at IS NULL DO NOTHING
    RETURNING {_COLUMNS}"""  # noqa: S608
#: Keyset pages of every key, locked: a rotation running twice at once takes turns, row by row.
KEYS_AFTER: Final[LiteralString] = f"""
    SELECT {_COLUMNS} FROM my_number_key WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2
    FOR UPDATE"""  # noqa: S608
REWRAP_KEY: Final[LiteralString] = """
    UPDATE my_number_key SET master_key_id = $2, wrapped = $3, rewrapped_at = now() WHERE id = $1"""
RETIRE_CURRENT_KEYS: Final[LiteralString] = """
    UPDATE my_number_key SET retired_at = now() WHERE retired_at IS NULL RETURNING agency_code"""


async def get_key(conn: asyncpg.Connection, key_id: uuid.UUID, agency: str) -> KeyRow | None:
    row = await conn.fetchrow(SELECT_KEY, key_id, agency)
    return None if row is None else KeyRow(**dict(row))


async def current_key(conn: asyncpg.Connection, agency: str) -> KeyRow | None:
    row = await conn.fetchrow(SELECT_CURRENT_KEY, agency)
    return None if row is None else KeyRow(**dict(row))


async def insert_key(
    conn: asyncpg.Connection, key_id: uuid.UUID, agency: str, master_key_id: str, wrapped: bytes
) -> KeyRow | None:
    """None when the agency got a current key meanwhile (another process made it first)."""
    row = await conn.fetchrow(INSERT_KEY, key_id, agency, master_key_id, wrapped)
    return None if row is None else KeyRow(**dict(row))


async def keys_after(conn: asyncpg.Connection, after: uuid.UUID | None, limit: int) -> list[KeyRow]:
    return [KeyRow(**dict(r)) for r in await conn.fetch(KEYS_AFTER, after, limit)]


async def rewrap_key(conn: asyncpg.Connection, key_id: uuid.UUID, master_key_id: str, wrapped: bytes) -> None:
    await conn.execute(REWRAP_KEY, key_id, master_key_id, wrapped)


async def retire_current_keys(conn: asyncpg.Connection) -> list[str]:
    return [r["agency_code"] for r in await conn.fetch(RETIRE_CURRENT_KEYS)]


INSERT_SEALED: Final[LiteralString] = """
    INSERT INTO revision_my_number (revision_id, agency_code, answers, pointers) VALUES ($1, $2, $3, $4)"""
#: The masked answers of the sealed ones among some revisions (one application's).
SEALED_ANSWERS: Final[LiteralString] = """
    SELECT revision_id, answers FROM revision_my_number WHERE revision_id = ANY($1::uuid[])"""
SEALED_STATE: Final[LiteralString] = """
    SELECT agency_code, pointers, purged_at FROM revision_my_number WHERE revision_id = $1"""
#: The revision an answer is read from: the latest, or the one numbered; with its sealed state.
REVISION_FOR_ANSWER: Final[LiteralString] = """
    SELECT r.id, r.number, r.document, r.document_sha256, v.schema, m.answers AS masked, m.pointers, m.purged_at
    FROM revision r
    JOIN form_version v ON v.id = r.form_version_id
    LEFT JOIN revision_my_number m ON m.revision_id = r.id
    WHERE r.submission_id = $1 AND ($2::integer IS NULL OR r.number = $2)
    ORDER BY r.number DESC
    LIMIT 1"""
#: Sealed revisions past their procedure's my_number.retain_days, oldest first, a batch at a time.
PURGE_DUE: Final[LiteralString] = """
    SELECT m.revision_id, m.answers, m.pointers, r.submission_id, r.number, s.agency_code
    FROM revision_my_number m
    JOIN revision r ON r.id = m.revision_id
    JOIN submission s ON s.id = r.submission_id
    JOIN procedure p ON p.id = s.procedure_id
    WHERE m.purged_at IS NULL AND p.my_number ? 'retain_days'
      AND r.received_at + make_interval(days => (p.my_number ->> 'retain_days')::integer) <= $1
    ORDER BY r.received_at
    LIMIT $2
    FOR UPDATE OF m SKIP LOCKED"""
PURGE_DOCUMENT: Final[LiteralString] = "UPDATE revision SET document = ''::bytea WHERE id = $1"
MARK_PURGED: Final[LiteralString] = """
    UPDATE revision_my_number SET answers = $2, purged_at = $3 WHERE revision_id = $1"""


class AnswerSource(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    number: int
    document: bytes
    document_sha256: bytes
    schema: dict[str, Any]
    masked: dict[str, Any] | None
    """The masked answers when the revision is sealed (its document is then ciphertext)."""
    pointers: list[str] | None
    purged_at: dt.datetime | None


class DueRow(msgspec.Struct, frozen=True, kw_only=True):
    revision_id: uuid.UUID
    answers: dict[str, Any]
    pointers: list[str]
    submission_id: uuid.UUID
    number: int
    agency_code: str


async def insert_sealed(
    conn: asyncpg.Connection, revision_id: uuid.UUID, agency: str, answers: dict[str, Any], pointers: list[str]
) -> None:
    await conn.execute(INSERT_SEALED, revision_id, agency, answers, pointers)


async def sealed_answers(conn: asyncpg.Connection, revision_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    return {r["revision_id"]: r["answers"] for r in await conn.fetch(SEALED_ANSWERS, revision_ids)}


async def sealed_state(conn: asyncpg.Connection, revision_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(SEALED_STATE, revision_id)
    return row


async def answer_source(conn: asyncpg.Connection, submission_id: uuid.UUID, number: int | None) -> AnswerSource | None:
    row = await conn.fetchrow(REVISION_FOR_ANSWER, submission_id, number)
    return None if row is None else AnswerSource(**dict(row))


async def purge_due(conn: asyncpg.Connection, now: dt.datetime, limit: int) -> list[DueRow]:
    return [DueRow(**dict(r)) for r in await conn.fetch(PURGE_DUE, now, limit)]


async def purge(conn: asyncpg.Connection, revision_id: uuid.UUID, answers: dict[str, Any], now: dt.datetime) -> None:
    await conn.execute(PURGE_DOCUMENT, revision_id)
    await conn.execute(MARK_PURGED, revision_id, answers, now)


FORM_AGENCY: Final[LiteralString] = "SELECT agency_code FROM form WHERE id = $1"


async def form_agency(conn: asyncpg.Connection, form_id: str) -> str:
    agency: str | None = await conn.fetchval(FORM_AGENCY, form_id)
    assert agency is not None  # a draft's form exists (a foreign key)
    return agency
