"""SQL for the agencies' wrapped data keys."""

from __future__ import annotations

import uuid
from typing import Final, LiteralString

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
