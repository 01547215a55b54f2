"""SQL for the event feed (migration 0018: the outbox and why it is ordered by transaction)."""

from __future__ import annotations

from typing import Final, LiteralString

import asyncpg

#: Events of committed transactions older than every transaction still running, after the cursor:
#: a transaction that commits later has a larger txid, so no page ever skips an event.
LIST_EVENTS: Final[LiteralString] = """
    SELECT id, event_id, txid::text AS txid, type, payload, occurred_at
    FROM outbox_event
    WHERE ($1::text IS NULL OR agency_code = $1)
      AND txid < pg_snapshot_xmin(pg_current_snapshot())
      AND ($2::text IS NULL OR (txid, id) > ($2::xid8, $3::bigint))
      AND ($4::text[] IS NULL OR type = ANY ($4))
    ORDER BY txid, id
    LIMIT $5"""


async def list_events(
    conn: asyncpg.Connection, agency: str | None, after: tuple[str, int] | None, types: list[str] | None, limit: int
) -> list[asyncpg.Record]:
    txid, event_seq = after or (None, None)
    return list(await conn.fetch(LIST_EVENTS, agency, txid, event_seq, types, limit))
