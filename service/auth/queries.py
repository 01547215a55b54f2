"""SQL for API tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Final, LiteralString

import asyncpg

from service.auth.schemas import Principal, Role, TokenOut

SELECT_PRINCIPAL: Final[LiteralString] = """
    SELECT id, role, agency_code, permissions FROM api_token WHERE token_hash = $1 AND revoked_at IS NULL"""

INSERT_TOKEN: Final[LiteralString] = """
    INSERT INTO api_token (token_hash, role, agency_code, name, permissions) VALUES ($1, $2, $3, $4, $5)
    RETURNING id, role, agency_code AS agency, name, permissions, created_at, revoked_at"""  # noqa: S105 - SQL, not a secret

LIST_TOKENS: Final[LiteralString] = """
    SELECT id, role, agency_code AS agency, name, permissions, created_at, revoked_at
    FROM api_token
    WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2::uuid))
      AND ($3::text IS NULL OR agency_code = $3)
    ORDER BY created_at, id
    LIMIT $4"""

TOKEN_OWNER: Final[LiteralString] = "SELECT role, agency_code FROM api_token WHERE id = $1"  # noqa: S105 - SQL
REVOKE_TOKEN: Final[LiteralString] = """
    UPDATE api_token SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id"""  # noqa: S105 - SQL, not a secret


async def principal_for(conn: asyncpg.Connection, token_hash: bytes) -> Principal | None:
    row = await conn.fetchrow(SELECT_PRINCIPAL, token_hash)
    return None if row is None else Principal(row["id"], row["role"], row["agency_code"], frozenset(row["permissions"]))


async def insert_token(
    conn: asyncpg.Connection,
    token_hash: bytes,
    role: Role,
    agency_code: str | None,
    name: str,
    permissions: list[str] | None = None,
) -> TokenOut:
    row = await conn.fetchrow(INSERT_TOKEN, token_hash, role, agency_code, name, sorted(set(permissions or ())))
    assert row is not None  # RETURNING always yields a row
    return TokenOut(**dict(row))


async def list_tokens(
    conn: asyncpg.Connection, after: tuple[dt.datetime, uuid.UUID] | None, agency_code: str | None, limit: int
) -> list[TokenOut]:
    created, token_id = after or (None, None)
    rows = await conn.fetch(LIST_TOKENS, created, token_id, agency_code, limit)
    return [TokenOut(**dict(r)) for r in rows]


async def revoke_token(conn: asyncpg.Connection, token_id: uuid.UUID) -> bool:
    return await conn.fetchval(REVOKE_TOKEN, token_id) is not None


async def token_owner(conn: asyncpg.Connection, token_id: uuid.UUID) -> tuple[str, str | None] | None:
    """(role, agency) of a token, for the agency admin's scope check."""
    row = await conn.fetchrow(TOKEN_OWNER, token_id)
    return None if row is None else (row["role"], row["agency_code"])
