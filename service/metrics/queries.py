"""What a scrape reads from the database: pending signatures, open work per agency, CRL freshness."""

from __future__ import annotations

from typing import Final, LiteralString

import asyncpg
import msgspec

PENDING_SIGNATURES: Final[LiteralString] = """
    SELECT count(*) AS pending, coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8 AS oldest
    FROM revision WHERE verification_status = 'pending'"""

#: Open work only: decided submissions stay for ever and are not a queue. Each status of each agency
#: is one row (the agency_code, status index), so the LIMIT is far above any real count.
QUEUE_DEPTH: Final[LiteralString] = """
    SELECT agency_code, status, count(*) AS depth FROM submission
    WHERE status IN ('received', 'under_review', 'correction_requested')
    GROUP BY agency_code, status ORDER BY agency_code, status LIMIT $1"""

#: The newest CRL of each anchor that has one (by the anchor's key, as the trust store matches them).
CRL_FRESHNESS: Final[LiteralString] = """
    SELECT encode(substr(a.sha256, 1, 8), 'hex') AS anchor, a.certificate_class,
           extract(epoch FROM now() - c.this_update)::float8 AS age,
           extract(epoch FROM c.next_update - now())::float8 AS next_update_in
    FROM trust_anchor a
    JOIN LATERAL (
        SELECT this_update, next_update FROM trust_crl WHERE issuer_key_id = a.key_id
        ORDER BY this_update DESC LIMIT 1
    ) c ON true
    ORDER BY a.sha256 LIMIT $1"""

MAX_ROWS: Final = 10_000


class Pending(msgspec.Struct, frozen=True):
    count: int
    oldest_seconds: float


class QueueDepth(msgspec.Struct, frozen=True):
    agency: str
    status: str
    depth: int


class CrlFreshness(msgspec.Struct, frozen=True):
    anchor: str
    certificate_class: str
    age_seconds: float
    next_update_in_seconds: float | None


async def pending_signatures(conn: asyncpg.Connection) -> Pending:
    row = await conn.fetchrow(PENDING_SIGNATURES)
    assert row is not None  # an aggregate always yields a row
    return Pending(count=row["pending"], oldest_seconds=row["oldest"])


async def queue_depth(conn: asyncpg.Connection) -> list[QueueDepth]:
    return [QueueDepth(r["agency_code"], r["status"], r["depth"]) for r in await conn.fetch(QUEUE_DEPTH, MAX_ROWS)]


async def crl_freshness(conn: asyncpg.Connection) -> list[CrlFreshness]:
    return [
        CrlFreshness(r["anchor"], r["certificate_class"], r["age"], r["next_update_in"])
        for r in await conn.fetch(CRL_FRESHNESS, MAX_ROWS)
    ]
