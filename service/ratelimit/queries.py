"""SQL of the rate limits: one statement takes a request's turn, or leaves the row as it was."""

from __future__ import annotations

import datetime as dt
from typing import Final, LiteralString

import asyncpg

#: GCRA in one statement: $3 now, $4 the emission interval (a minute over the rate), $5 the burst's
#: tolerance. The row is locked until the request's transaction ends, so two processes serving one
#: client take their turns one after the other; other clients' rows are not touched.
TAKE_TURN: Final[LiteralString] = """
    INSERT INTO rate_limit AS r (bucket, client, tat) VALUES ($1, $2, $3::timestamptz + $4::interval)
    ON CONFLICT (bucket, client) DO UPDATE SET tat = GREATEST(r.tat, $3::timestamptz) + $4::interval
    WHERE r.tat <= $3::timestamptz + $5::interval
    RETURNING tat"""
SELECT_TAT: Final[LiteralString] = "SELECT tat FROM rate_limit WHERE bucket = $1 AND client = $2"
#: Rows whose time has passed: equivalent to no row. SKIP LOCKED: a row a request holds is left.
DELETE_PASSED: Final[LiteralString] = """
    DELETE FROM rate_limit WHERE (bucket, client) IN (
        SELECT bucket, client FROM rate_limit WHERE tat < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
    )"""


async def take_turn(
    conn: asyncpg.Connection,
    bucket: str,
    client: bytes,
    now: dt.datetime,
    interval: dt.timedelta,
    tolerance: dt.timedelta,
) -> bool:
    """True when the request may go ahead (its turn is taken); False when it is over the limit."""
    return await conn.fetchval(TAKE_TURN, bucket, client, now, interval, tolerance) is not None


async def tat(conn: asyncpg.Connection, bucket: str, client: bytes) -> dt.datetime | None:
    found: dt.datetime | None = await conn.fetchval(SELECT_TAT, bucket, client)
    return found


async def delete_passed(conn: asyncpg.Connection, cutoff: dt.datetime, limit: int) -> int:
    return int((await conn.execute(DELETE_PASSED, cutoff, limit)).rpartition(" ")[2])
