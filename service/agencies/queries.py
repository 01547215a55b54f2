"""SQL for agencies."""

from __future__ import annotations

from typing import Final, LiteralString

import asyncpg

from service.agencies.schemas import AgencyIn, AgencyOut
from service.retention.schemas import RetentionRule

LIST_AGENCIES: Final[LiteralString] = """
    SELECT code, name_ja, name_en, revocation, retention_years, retention_from FROM agency
    WHERE ($1::text IS NULL OR code > $1)
    ORDER BY code
    LIMIT $2"""

SELECT_AGENCY: Final[LiteralString] = """
    SELECT code, name_ja, name_en, revocation, retention_years, retention_from FROM agency WHERE code = $1"""

UPSERT_AGENCY: Final[LiteralString] = """
    INSERT INTO agency (code, name_ja, name_en, revocation, retention_years, retention_from)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (code) DO UPDATE SET name_ja = excluded.name_ja, name_en = excluded.name_en,
                                     revocation = excluded.revocation, retention_years = excluded.retention_years,
                                     retention_from = excluded.retention_from
    RETURNING code, name_ja, name_en, revocation, retention_years, retention_from, (xmax = 0) AS created"""


def _agency(row: asyncpg.Record) -> AgencyOut:
    return AgencyOut(
        code=row["code"], name_ja=row["name_ja"], name_en=row["name_en"], revocation=row["revocation"],
        retention=RetentionRule(years=row["retention_years"], start=row["retention_from"]),
    )  # fmt: skip


async def list_agencies(conn: asyncpg.Connection, after: str | None, limit: int) -> list[AgencyOut]:
    return [_agency(r) for r in await conn.fetch(LIST_AGENCIES, after, limit)]


async def get_agency(conn: asyncpg.Connection, code: str) -> AgencyOut | None:
    row = await conn.fetchrow(SELECT_AGENCY, code)
    return None if row is None else _agency(row)


async def upsert_agency(conn: asyncpg.Connection, agency: AgencyIn) -> tuple[AgencyOut, bool]:
    """Insert or update; the flag says whether the row is new (``xmax = 0`` on a fresh insert)."""
    row = await conn.fetchrow(
        UPSERT_AGENCY, agency.code, agency.name_ja, agency.name_en, agency.revocation, agency.retention.years,
        agency.retention.start,
    )  # fmt: skip
    assert row is not None  # RETURNING always yields a row
    return _agency(row), row["created"]
