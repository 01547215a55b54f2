"""The event feed: the outbox, for systems that prefer to pull."""

from __future__ import annotations

import asyncpg

from service.auth.principal import require_role
from service.auth.schemas import Principal
from service.events import queries
from service.events.schemas import EventOut
from service.pagination import Page, decode_cursor, encode_cursor


async def list_events(
    conn: asyncpg.Connection,
    who: Principal,
    agency: str | None,
    types: list[str] | None,
    cursor: str | None,
    limit: int,
) -> Page[EventOut]:
    """The agency's events in the order they committed; a platform admin sees every agency's (or one's)."""
    require_role(who, "admin", "agency-admin", "clerk")
    if not who.is_admin:
        agency = who.agency_code  # its own agency's events, whatever filter was asked for
    after = decode_cursor(cursor, str, int)
    rows = await queries.list_events(conn, agency, (after[0], after[1]) if after else None, types, limit + 1)
    items = [EventOut(id=r["event_id"], type=r["type"], timestamp=r["occurred_at"], data=r["payload"]) for r in rows]
    if len(rows) > limit:
        last = rows[limit - 1]
        return Page(items[:limit], encode_cursor(last["txid"], last["id"]))
    return Page(items, None)
