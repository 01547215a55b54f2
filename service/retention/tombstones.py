"""What remains of a purged application, and the answer every view of its content gives instead (410)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Final

import asyncpg
import msgspec

from service.problems import Purged
from service.retention import queries
from service.retention.schemas import PurgedObject, Retention, Tombstone, TombstoneOut
from signing import canonical

#: The detail gives the date as the agency and the applicant count it.
JAPAN: Final = dt.timezone(dt.timedelta(hours=9), "JST")


def digest(tombstone: Tombstone) -> bytes:
    """SHA-256 of the canonical tombstone: the purge's audit event carries it into the hash chain."""
    return hashlib.sha256(canonical.encode(tombstone)).digest()


def _tombstone(row: asyncpg.Record) -> Tombstone:
    return Tombstone(
        submission_id=row["submission_id"], agency=row["agency_code"], procedure=row["procedure_id"],
        status=row["status"], receipt_numbers=list(row["receipt_numbers"]), received_at=row["received_at"],
        closed_at=row["closed_at"],
        retention=Retention(years=row["retention_years"], start=row["retention_from"], source=row["retention_source"]),
        retain_until=row["retain_until"], purged_at=row["purged_at"],
        objects=msgspec.convert(row["objects"], list[PurgedObject]),
    )  # fmt: skip


async def find(conn: asyncpg.Connection, submission_id: uuid.UUID) -> TombstoneOut | None:
    row = await queries.tombstone(conn, submission_id)
    if row is None:
        return None
    return TombstoneOut(tombstone=_tombstone(row), sha256=row["sha256"].hex())


def retention_link(submission_id: uuid.UUID) -> str:
    return f"/api/v1/submissions/{submission_id}/retention"


async def refuse_purged(conn: asyncpg.Connection, submission_id: uuid.UUID) -> None:
    """410 ``purged`` for anything that reads a purged application's content (views, files, the bundle).

    Gone rather than an empty answer: the content was removed on purpose and will not come back, and a
    bundle without it would prove nothing. The problem says when, and where the tombstone is.
    """
    at = await queries.purged_at(conn, submission_id)
    if at is not None:
        day = at.astimezone(JAPAN).date().isoformat()
        raise Purged(
            f"Application {submission_id} was purged on {day} (Japan time) at the end of its retention period; "
            "only its tombstone (receipt numbers, dates, final status, SHA-256 of what was deleted) remains.",
            extensions={"purged_at": at.isoformat(), "links": {"tombstone": retention_link(submission_id)}},
        )
