"""Agency rules: anyone may read the list; only platform admins add or rename agencies."""

from __future__ import annotations

import asyncpg

from service.agencies import queries
from service.agencies.schemas import AgencyIn, AgencyOut
from service.auth.principal import require_role
from service.auth.schemas import Principal
from service.pagination import Page, decode_cursor, page
from service.problems import NotFound


async def list_agencies(conn: asyncpg.Connection, cursor: str | None, limit: int) -> Page[AgencyOut]:
    after = decode_cursor(cursor, str)
    rows = await queries.list_agencies(conn, after[0] if after else None, limit + 1)
    return page(rows, limit, lambda a: (a.code,))


async def get_agency(conn: asyncpg.Connection, code: str) -> AgencyOut:
    agency = await queries.get_agency(conn, code)
    if agency is None:
        raise NotFound(f"There is no agency {code}.")
    return agency


async def put_agency(conn: asyncpg.Connection, who: Principal, agency: AgencyIn) -> tuple[AgencyOut, bool]:
    require_role(who, "admin")
    return await queries.upsert_agency(conn, agency)
