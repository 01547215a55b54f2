"""Queue rules: clerks (and agency admins) see and claim their own agency's submissions only."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from service.audit import trail
from service.auth.principal import require_role
from service.auth.schemas import Principal
from service.pagination import Page, decode_cursor, page
from service.problems import Forbidden
from service.proxy import service as proxy
from service.queue import queries
from service.queue.schemas import Claimed, QueueRow


def _agency(who: Principal) -> str:
    require_role(who, "clerk", "agency-admin")
    if who.agency_code is None:
        raise Forbidden("The queue belongs to an agency; use a clerk's or an agency admin's token.")
    return who.agency_code


async def list_queue(
    conn: asyncpg.Connection,
    who: Principal,
    *,
    status: str | None,
    form: str | None,
    procedure: str | None,
    assigned: str,
    flag: str | None,
    received_from: dt.datetime | None,
    received_to: dt.datetime | None,
    cursor: str | None,
    limit: int,
    agent: str | None = None,
) -> Page[QueueRow]:
    agency = _agency(who)
    after = decode_cursor(cursor, dt.datetime, uuid.UUID)
    rows = await queries.list_queue(
        conn, agency, who.token_id, status=status, form=form, procedure=procedure, assigned=assigned, flag=flag,
        received_from=received_from, received_to=received_to, after=after, limit=limit + 1,
        agent=proxy.agent_key(agent) if agent else None,
    )  # fmt: skip
    return page(rows, limit, lambda r: (r.received_at.isoformat(), str(r.id)))


async def claim(conn: asyncpg.Connection, who: Principal) -> Claimed | None:
    """The oldest unassigned received submission, now under review by the caller; None when none is left."""
    agency = _agency(who)
    claimed = await queries.claim_oldest(conn, agency, who.token_id)
    if claimed is not None:
        await trail.record(
            conn,
            actor=str(who.token_id),
            role=who.role,
            agency=agency,
            action="submission.claimed",
            subject=str(claimed.id),
        )
    return claimed
