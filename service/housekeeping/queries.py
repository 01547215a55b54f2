"""SQL of housekeeping: one bounded batch of deletions per statement."""

from __future__ import annotations

import datetime as dt
from typing import Final, LiteralString

import asyncpg

#: Nonces used or expired before the cutoff, except those a revision names: a revision's nonce is
#: evidence (its issue time bounds the signing time, re-verification reads it) and the foreign key
#: keeps it. SKIP LOCKED: a nonce that intake is consuming right now is left for the next run.
DELETE_NONCES: Final[LiteralString] = """
    DELETE FROM nonce WHERE nonce IN (
        SELECT n.nonce FROM nonce n
        WHERE (n.expires_at < $1 OR n.consumed_at < $1)
          AND NOT EXISTS (SELECT 1 FROM revision r WHERE r.nonce = n.nonce)
        LIMIT $2
        FOR UPDATE OF n SKIP LOCKED
    )"""

#: Idempotency keys older than the cutoff: a client retrying after that gets a new submission's
#: duplicate check (409 for the same document bytes) instead of the stored reply.
DELETE_IDEMPOTENCY: Final[LiteralString] = """
    DELETE FROM idempotency WHERE key IN (
        SELECT key FROM idempotency WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
    )"""


def _count(status: str) -> int:
    return int(status.rpartition(" ")[2])  # "DELETE 42"


async def delete_nonces(conn: asyncpg.Connection, cutoff: dt.datetime, limit: int) -> int:
    return _count(await conn.execute(DELETE_NONCES, cutoff, limit))


async def delete_idempotency(conn: asyncpg.Connection, cutoff: dt.datetime, limit: int) -> int:
    return _count(await conn.execute(DELETE_IDEMPOTENCY, cutoff, limit))
