"""SQL for console sessions, and the agency's own forms with every version (drafts included)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Final, LiteralString

import asyncpg
import msgspec

from service.auth.schemas import Principal

INSERT_SESSION: Final[LiteralString] = """
    INSERT INTO console_session (secret_hash, token_id, expires_at) VALUES ($1, $2, now() + $3::interval)
    RETURNING id"""

#: A session counts only while it is open, unexpired and its token is not revoked.
SESSION_PRINCIPAL: Final[LiteralString] = """
    SELECT t.id, t.role, t.agency_code, t.name, t.permissions
    FROM console_session s JOIN api_token t ON t.id = s.token_id
    WHERE s.secret_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now() AND t.revoked_at IS NULL"""

END_SESSION: Final[LiteralString] = """
    UPDATE console_session SET ended_at = now() WHERE secret_hash = $1 AND ended_at IS NULL RETURNING token_id"""

#: Every form of one agency with its versions, drafts too (the public list shows published forms only).
AGENCY_FORMS: Final[LiteralString] = """
    SELECT f.id, f.procedure_id, p.name_ja AS procedure_name, v.version, v.status,
           v.schema -> 'title' AS title, v.created_at, v.published_at, v.retired_at
    FROM form f
    JOIN procedure p ON p.id = f.procedure_id
    JOIN form_version v ON v.form_id = f.id
    WHERE f.agency_code = $1
    ORDER BY f.id, v.version
    LIMIT $2"""

AGENCY_PROCEDURES: Final[LiteralString] = """
    SELECT id, name_ja FROM procedure WHERE agency_code = $1 ORDER BY id LIMIT $2"""


class SessionPrincipal(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    name: str


class FormVersionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    procedure_id: str
    procedure_name: str
    version: int
    status: str
    title: dict[str, str]
    created_at: dt.datetime
    published_at: dt.datetime | None
    retired_at: dt.datetime | None


async def insert_session(
    conn: asyncpg.Connection, secret_hash: bytes, token_id: uuid.UUID, lifetime: dt.timedelta
) -> uuid.UUID:
    session_id: uuid.UUID = await conn.fetchval(INSERT_SESSION, secret_hash, token_id, lifetime)
    return session_id


async def session_principal(conn: asyncpg.Connection, secret_hash: bytes) -> SessionPrincipal | None:
    row = await conn.fetchrow(SESSION_PRINCIPAL, secret_hash)
    if row is None:
        return None
    principal = Principal(row["id"], row["role"], row["agency_code"], frozenset(row["permissions"]))
    return SessionPrincipal(principal=principal, name=row["name"])


async def end_session(conn: asyncpg.Connection, secret_hash: bytes) -> uuid.UUID | None:
    token_id: uuid.UUID | None = await conn.fetchval(END_SESSION, secret_hash)
    return token_id


async def agency_forms(conn: asyncpg.Connection, agency: str, limit: int) -> list[FormVersionRow]:
    return [FormVersionRow(**dict(r)) for r in await conn.fetch(AGENCY_FORMS, agency, limit)]


async def agency_procedures(conn: asyncpg.Connection, agency: str, limit: int) -> list[tuple[str, str]]:
    return [(r["id"], r["name_ja"]) for r in await conn.fetch(AGENCY_PROCEDURES, agency, limit)]
