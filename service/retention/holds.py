"""Legal holds (訴訟ホールド): an agency admin keeps an application past its retention, and lets it go.

The reason is kept with the hold, for the agency's staff; the audit trail records the act and the
reason's SHA-256 only (a reason may name people). Holds are placed under the application's row
lock, the lock the retention run takes before it purges, so a hold and a purge never cross.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import asyncpg

from service.access import STAFF
from service.audit import trail
from service.auth.principal import require_role
from service.auth.schemas import Principal
from service.problems import NotFound
from service.retention import queries, tombstones
from service.retention.schemas import HoldOut


def _hold(row: asyncpg.Record) -> HoldOut:
    return HoldOut(
        submission_id=row["submission_id"], reason=row["reason"], placed_by=row["placed_by"],
        placed_at=row["placed_at"], released_by=row["released_by"], released_at=row["released_at"],
    )  # fmt: skip


async def _locked(conn: asyncpg.Connection, who: Principal, submission_id: uuid.UUID) -> str:
    """The application's agency, its row locked: absent (404) to another agency's staff, 403 to clerks."""
    require_role(who, *STAFF)
    row = await queries.lock_submission(conn, submission_id)
    if row is None or row["agency_code"] != who.agency_code:
        raise NotFound(f"There is no submission {submission_id}.")
    require_role(who, "agency-admin")
    await tombstones.refuse_purged(conn, submission_id)
    return str(row["agency_code"])


async def place(
    conn: asyncpg.Connection, who: Principal, submission_id: uuid.UUID, reason: str, now: dt.datetime
) -> HoldOut:
    """Hold the application (open or closed); holding it again changes the reason. Audited."""
    agency = await _locked(conn, who, submission_id)
    row = await queries.place_hold(conn, submission_id, reason, who.token_id, now)
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=agency, action="legal_hold.placed",
        subject=str(submission_id),
        details={"changed": not row["created"], "reason_sha256": hashlib.sha256(reason.encode()).hexdigest()},
        at=now,
    )  # fmt: skip
    return _hold(row)


async def release(conn: asyncpg.Connection, who: Principal, submission_id: uuid.UUID, now: dt.datetime) -> HoldOut:
    """End the active hold; the application is purged by the next run if its period is over. Audited."""
    agency = await _locked(conn, who, submission_id)
    row = await queries.release_hold(conn, submission_id, who.token_id, now)
    if row is None:
        raise NotFound(f"Submission {submission_id} is not on hold.")
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=agency, action="legal_hold.released",
        subject=str(submission_id), at=now,
    )  # fmt: skip
    return _hold(row)


async def active(conn: asyncpg.Connection, submission_id: uuid.UUID) -> HoldOut | None:
    row = await queries.active_hold(conn, submission_id)
    return None if row is None else _hold(row)
