"""The retention run: closed applications past their period lose their content; a tombstone remains.

What goes: the signed document (the answers), the signatures and their time-stamp tokens with their
reports (the decoded JPKI identity), the files, the receipts and the decision notice (their PDFs name
the applicant), the mandate of a filing on someone's behalf, internal comments, the messages and
fields of the timeline, and the signer identity. What stays: the rows themselves (a receipt number is
never given out again), each revision's verdict without the signers' names, the timeline's kinds and
dates, and the tombstone with the SHA-256 of every object deleted, so that an applicant's copy of a
receipt can still be matched. The audit trail is not touched: its events hold ids, codes and hashes,
never content, so the chain verifies after a purge as before it.

Only applications in a final state are purged, and none under a legal hold. Each application is
purged in one transaction with its tombstone, its ``purged`` timeline event (which the events outbox
publishes as ``submission.purged``) and its audit event.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Final

import asyncpg
import msgspec

from service.audit import trail
from service.retention import queries, tombstones
from service.retention.schemas import DueOut, PurgedObject, Retention, RunReport, Tombstone

#: Applications per run at most, whatever the batch size: a backlog (the first run after years of
#: operation) is worked off over several days rather than in one run that holds the server's attention.
MAX_PER_RUN: Final = 10_000


class Batches(msgspec.Struct, frozen=True, kw_only=True):
    size: int
    """Applications per transaction: each batch commits on its own, so its row locks are short."""
    limit: int = MAX_PER_RUN


def _objects(rows: list[asyncpg.Record]) -> list[PurgedObject]:
    return [
        PurgedObject(kind=o["kind"], revision=o["revision"], name=o["name"], sha256=o["sha256"].hex(), size=o["size"])
        for o in rows
    ]


def _due(row: asyncpg.Record, numbers: list[str], objects: list[PurgedObject]) -> DueOut:
    return DueOut(
        submission_id=row["id"], agency=row["agency_code"], receipt_numbers=numbers, status=row["status"],
        retain_until=row["retain_until"], objects=len(objects), bytes=sum(o.size for o in objects),
    )  # fmt: skip


async def purge_one(conn: asyncpg.Connection, row: asyncpg.Record, now: dt.datetime) -> DueOut | None:
    """Purge one application of a locked batch (inside its transaction); None when a hold came meanwhile."""
    submission_id: uuid.UUID = row["id"]
    # A statement of its own, after the lock: a hold placed (under the same lock) since the batch was
    # chosen is seen here, where the batch's own snapshot could not see it.
    if await queries.held_now(conn, submission_id):
        return None
    objects = _objects(await queries.objects(conn, submission_id))
    numbers = await queries.receipt_numbers(conn, submission_id)
    tombstone = Tombstone(
        submission_id=submission_id, agency=row["agency_code"], procedure=row["procedure_id"], status=row["status"],
        receipt_numbers=numbers, received_at=row["received_at"], closed_at=row["closed_at"],
        retention=Retention(years=row["years"], start=row["start"], source=row["source"]),
        retain_until=row["retain_until"], purged_at=now, objects=objects,
    )  # fmt: skip
    digest = tombstones.digest(tombstone)
    await queries.erase(conn, submission_id, now)
    await queries.insert_tombstone(
        conn, submission_id, tombstone.agency, tombstone.procedure, tombstone.status, numbers, tombstone.received_at,
        tombstone.closed_at, tombstone.retention.years, tombstone.retention.start, tombstone.retention.source,
        tombstone.retain_until, now, msgspec.to_builtins(objects), digest,
    )  # fmt: skip
    await queries.purged_event(conn, submission_id, now)
    await trail.record(
        conn, actor="system", role="system", agency=tombstone.agency, action="submission.purged",
        subject=str(submission_id),
        details={"receipt_numbers": numbers, "objects": len(objects), "tombstone_sha256": digest.hex(),
                 "retain_until": tombstone.retain_until.isoformat()},
        at=now,
    )  # fmt: skip
    return _due(row, numbers, objects)


async def run(conn: asyncpg.Connection, now: dt.datetime, batches: Batches, *, dry_run: bool = False) -> RunReport:
    """Purge what ``now`` says is past its retention; ``now`` is passed in so that tests move the clock.

    ``conn`` must not be inside a transaction: every batch is a transaction of its own. A dry run
    reads the same selection, changes nothing, and says what the run would purge.
    """
    # Microseconds, UTC: what timestamptz keeps, so the tombstone's hash can be recomputed from its row.
    now = now.astimezone(dt.UTC)
    if dry_run:
        return await _dry_run(conn, now, batches)
    purged: list[DueOut] = []
    more = False
    while True:
        if len(purged) >= batches.limit:
            more = True
            break
        async with conn.transaction():
            rows = await queries.lock_due(conn, now, min(batches.size, batches.limit - len(purged)))
            for row in rows:
                if (done := await purge_one(conn, row, now)) is not None:
                    purged.append(done)
        if len(rows) < batches.size:
            break
        await asyncio.sleep(0)  # let requests waiting on this loop run between batches
    return RunReport(dry_run=False, at=now, purged=purged, held=await queries.count_held(conn, now), more=more)


async def _dry_run(conn: asyncpg.Connection, now: dt.datetime, batches: Batches) -> RunReport:
    due: list[DueOut] = []
    after: tuple[dt.datetime, uuid.UUID] | None = None
    more = False
    while True:
        page = await queries.list_due(conn, now, after, batches.size)
        for row in page:
            if len(due) >= batches.limit:
                more = True
                break
            numbers = await queries.receipt_numbers(conn, row["id"])
            due.append(_due(row, numbers, _objects(await queries.objects(conn, row["id"]))))
        if more or len(page) < batches.size:
            break
        after = (page[-1]["received_at"], page[-1]["id"])
    return RunReport(dry_run=True, at=now, purged=due, held=await queries.count_held(conn, now), more=more)
