"""SQL for drafts, their files and the nonces they were finalised with."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, LiteralString

import asyncpg
import msgspec


class DraftRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    form_id: str
    form_version_id: uuid.UUID
    form_version: int
    version_status: str
    schema: dict[str, Any]
    sha256: bytes | None
    answers: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    expires_at: dt.datetime


class AttachmentRow(msgspec.Struct, frozen=True, kw_only=True):
    sha256: bytes
    filename: str
    media_type: str
    size: int


class VersionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    version: int
    schema: dict[str, Any]
    sha256: bytes | None


_DRAFT_COLUMNS: Final = """d.id, d.form_id, d.form_version_id, v.version AS form_version, v.status AS version_status,
    v.schema, v.sha256, d.answers, d.created_at, d.updated_at, d.expires_at"""

LATEST_PUBLISHED: Final[LiteralString] = """
    SELECT id, version, schema, sha256 FROM form_version
    WHERE form_id = $1 AND status = 'published' ORDER BY version DESC LIMIT 1"""
INSERT_DRAFT: Final[LiteralString] = """
    INSERT INTO draft (id, token_hash, form_id, form_version_id, answers, expires_at)
    VALUES ($1, $2, $3, $4, $5, now() + $6::interval)"""
#: A draft for its token holder: an unknown, wrong or expired token finds nothing.
SELECT_DRAFT: Final[LiteralString] = f"""
    SELECT {_DRAFT_COLUMNS}
    FROM draft d JOIN form_version v ON v.id = d.form_version_id
    WHERE d.id = $1 AND d.token_hash = $2 AND d.expires_at > now()"""  # noqa: S608 - fixed column list
LOCK_DRAFT: Final[LiteralString] = SELECT_DRAFT + " FOR UPDATE OF d"
#: Every write keeps the draft for another full lifetime: it is being worked on.
UPDATE_ANSWERS: Final[LiteralString] = """
    UPDATE draft SET answers = $2, form_version_id = $3, updated_at = now(), expires_at = now() + $4::interval
    WHERE id = $1"""
DELETE_DRAFT: Final[LiteralString] = "DELETE FROM draft WHERE id = $1 AND token_hash = $2 RETURNING id"
LIST_ATTACHMENTS: Final[LiteralString] = """
    SELECT sha256, filename, media_type, size FROM draft_attachment WHERE draft_id = $1
    ORDER BY created_at, sha256 LIMIT $2"""
ATTACHMENT_TOTALS: Final[LiteralString] = """
    SELECT count(*) AS files, coalesce(sum(size), 0)::bigint AS bytes FROM draft_attachment
    WHERE draft_id = $1 AND sha256 <> $2"""
#: Content-addressed: the same bytes again keep one copy, named as last uploaded.
PUT_ATTACHMENT: Final[LiteralString] = """
    INSERT INTO draft_attachment (draft_id, sha256, filename, media_type, size, content) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (draft_id, sha256) DO UPDATE SET filename = excluded.filename, media_type = excluded.media_type"""
GET_ATTACHMENT: Final[LiteralString] = """
    SELECT filename, media_type, content FROM draft_attachment WHERE draft_id = $1 AND sha256 = $2"""
DELETE_ATTACHMENT: Final[LiteralString] = (
    "DELETE FROM draft_attachment WHERE draft_id = $1 AND sha256 = $2 RETURNING sha256"
)
INSERT_DRAFT_NONCE: Final[LiteralString] = "INSERT INTO draft_nonce (nonce, draft_id) VALUES ($1, $2)"
#: Intake's hook: the draft a consumed nonce was issued for is gone with the submission's commit.
DELETE_FOR_NONCE: Final[LiteralString] = """
    DELETE FROM draft WHERE id = (SELECT draft_id FROM draft_nonce WHERE nonce = $1) RETURNING id"""
#: Housekeeping: a batch of expired drafts (their files and nonce links cascade), oldest first.
PURGE_EXPIRED: Final[LiteralString] = """
    DELETE FROM draft WHERE id IN (
        SELECT id FROM draft WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
    )"""


async def latest_published(conn: asyncpg.Connection, form_id: str) -> VersionRow | None:
    row = await conn.fetchrow(LATEST_PUBLISHED, form_id)
    return None if row is None else VersionRow(**dict(row))


async def insert_draft(
    conn: asyncpg.Connection,
    draft_id: uuid.UUID,
    token_hash: bytes,
    form_id: str,
    version_id: uuid.UUID,
    answers: dict[str, Any],
    lifetime: dt.timedelta,
) -> None:
    await conn.execute(INSERT_DRAFT, draft_id, token_hash, form_id, version_id, answers, lifetime)


async def draft(
    conn: asyncpg.Connection, draft_id: uuid.UUID, token_hash: bytes, *, lock: bool = False
) -> DraftRow | None:
    row = await conn.fetchrow(LOCK_DRAFT if lock else SELECT_DRAFT, draft_id, token_hash)
    return None if row is None else DraftRow(**dict(row))


async def update_answers(
    conn: asyncpg.Connection,
    draft_id: uuid.UUID,
    answers: dict[str, Any],
    version_id: uuid.UUID,
    lifetime: dt.timedelta,
) -> None:
    await conn.execute(UPDATE_ANSWERS, draft_id, answers, version_id, lifetime)


async def delete_draft(conn: asyncpg.Connection, draft_id: uuid.UUID, token_hash: bytes) -> bool:
    return await conn.fetchval(DELETE_DRAFT, draft_id, token_hash) is not None


async def attachments(conn: asyncpg.Connection, draft_id: uuid.UUID, limit: int) -> list[AttachmentRow]:
    return [AttachmentRow(**dict(r)) for r in await conn.fetch(LIST_ATTACHMENTS, draft_id, limit)]


async def attachment_totals(conn: asyncpg.Connection, draft_id: uuid.UUID, besides: bytes) -> tuple[int, int]:
    """(files, bytes) a draft holds, not counting the file ``besides`` (being uploaded again)."""
    row = await conn.fetchrow(ATTACHMENT_TOTALS, draft_id, besides)
    assert row is not None  # an aggregate always yields a row
    return row["files"], row["bytes"]


async def put_attachment(
    conn: asyncpg.Connection, draft_id: uuid.UUID, sha256: bytes, filename: str, media_type: str, content: bytes
) -> None:
    await conn.execute(PUT_ATTACHMENT, draft_id, sha256, filename, media_type, len(content), content)


async def get_attachment(conn: asyncpg.Connection, draft_id: uuid.UUID, sha256: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_ATTACHMENT, draft_id, sha256)


async def delete_attachment(conn: asyncpg.Connection, draft_id: uuid.UUID, sha256: bytes) -> bool:
    return await conn.fetchval(DELETE_ATTACHMENT, draft_id, sha256) is not None


async def link_nonce(conn: asyncpg.Connection, nonce: str, draft_id: uuid.UUID) -> None:
    await conn.execute(INSERT_DRAFT_NONCE, nonce, draft_id)


async def delete_for_nonce(conn: asyncpg.Connection, nonce: str) -> uuid.UUID | None:
    deleted: uuid.UUID | None = await conn.fetchval(DELETE_FOR_NONCE, nonce)
    return deleted


async def purge_expired(conn: asyncpg.Connection, now: dt.datetime, batch: int) -> int:
    status: str = await conn.execute(PURGE_EXPIRED, now, batch)
    return int(status.rsplit(" ", 1)[-1])
