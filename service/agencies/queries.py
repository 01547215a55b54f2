"""SQL for agencies."""

from __future__ import annotations

from typing import Final, LiteralString

import asyncpg

from service.agencies.schemas import AgencyIn, AgencyOut

LIST_AGENCIES: Final[LiteralString] = """
    SELECT code, name_ja, name_en, revocation FROM agency
    WHERE ($1::text IS NULL OR code > $1)
    ORDER BY code
    LIMIT $2"""

SELECT_AGENCY: Final[LiteralString] = "SELECT code, name_ja, name_en, revocation FROM agency WHERE code = $1"

UPSERT_AGENCY: Final[LiteralString] = """
    INSERT INTO agency (code, name_ja, name_en, revocation) VALUES ($1, $2, $3, $4)
    ON CONFLICT (code) DO UPDATE SET name_ja = excluded.name_ja, name_en = excluded.name_en,
                                     revocation = excluded.revocation
    RETURNING code, name_ja, name_en, revocation, (xmax = 0) AS created"""


async def list_agencies(conn: asyncpg.Connection, after: str | None, limit: int) -> list[AgencyOut]:
    return [AgencyOut(**dict(r)) for r in await conn.fetch(LIST_AGENCIES, after, limit)]


async def get_agency(conn: asyncpg.Connection, code: str) -> AgencyOut | None:
    row = await conn.fetchrow(SELECT_AGENCY, code)
    return None if row is None else AgencyOut(**dict(row))


async def upsert_agency(conn: asyncpg.Connection, agency: AgencyIn) -> tuple[AgencyOut, bool]:
    """Insert or update; the flag says whether the row is new (``xmax = 0`` on a fresh insert)."""
    row = await conn.fetchrow(UPSERT_AGENCY, agency.code, agency.name_ja, agency.name_en, agency.revocation)
    assert row is not None  # RETURNING always yields a row
    out = AgencyOut(code=row["code"], name_ja=row["name_ja"], name_en=row["name_en"], revocation=row["revocation"])
    return out, row["created"]
