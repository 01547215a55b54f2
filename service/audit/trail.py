"""The audit trail: every action appended to a hash chain that the database will not let anyone edit."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Final

import asyncpg
import msgspec

from service.audit import queries
from service.metrics import context as metrics
from signing import canonical

#: One sealer at a time ("AUDT"); held only for the sealer's own short transaction.
LOCK_KEY: Final = 0x41554454
GENESIS: Final = bytes(32)


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """What is hashed. ``details`` must hold no personal data: ids, codes, counts."""

    seq: int
    """The event's place in the chain (the ``position`` column)."""
    at: dt.datetime
    actor: str
    role: str
    agency: str | None
    action: str
    subject: str
    details: dict[str, Any]


class Head(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    hash: str
    at: dt.datetime | None


class ChainReport(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    head: str
    broken_at: int | None = None
    """The first event whose stored link or hash does not match (None: the chain holds)."""


def link(prev_hash: bytes, event: Event) -> bytes:
    return hashlib.sha256(prev_hash + canonical.encode(event)).digest()


async def record(
    conn: asyncpg.Connection,
    *,
    actor: str,
    role: str,
    agency: str | None,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Append one event inside the caller's transaction (it commits or vanishes with the action).

    One queries.INSERT and no lock: concurrent transactions never wait on each other here. The event is
    sealed into the chain shortly after it commits (``seal``). Returns its id.
    """
    # Microseconds, UTC: exactly what timestamptz keeps, so the hash can be recomputed from the row.
    moment = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    with metrics.audit_append():
        seq: int = await conn.fetchval(queries.INSERT, moment, actor, role, agency, action, subject, details or {})
    return seq


async def seal(conn: asyncpg.Connection, batch: int = 5000, *, wait: bool = False) -> int:
    """Give committed unsealed events, in id order, the next places in the chain; how many were sealed.

    One sealer at a time: without ``wait`` another sealer at work means there is nothing to do now.
    """
    sealed = 0
    while True:
        async with conn.transaction():
            if wait:
                await conn.execute(queries.LOCK, LOCK_KEY)
            elif not await conn.fetchval(queries.TRY_LOCK, LOCK_KEY):
                return sealed
            head = await conn.fetchrow(queries.SEALED_HEAD)
            rows = await conn.fetch(queries.UNSEALED, batch)
            if not rows:
                return sealed
            position = head["position"] if head else 0
            prev = head["hash"] if head else GENESIS
            seqs, positions, prevs, hashes = [], [], [], []
            for row in rows:
                position += 1
                event = Event(
                    seq=position, at=row["at"], actor=row["actor"], role=row["role"], agency=row["agency_code"],
                    action=row["action"], subject=row["subject"], details=row["details"],
                )  # fmt: skip
                digest = link(prev, event)
                seqs.append(row["seq"])
                positions.append(position)
                prevs.append(prev)
                hashes.append(digest)
                prev = digest
            await conn.execute(queries.SEAL, seqs, positions, prevs, hashes)
            sealed += len(rows)
        if len(rows) < batch:
            return sealed


async def head(conn: asyncpg.Connection) -> Head:
    """The chain's head, once every event committed so far is sealed (what an agency publishes)."""
    await seal(conn, wait=True)
    row = await conn.fetchrow(queries.SEALED_HEAD)
    if row is None:
        return Head(seq=0, hash=GENESIS.hex(), at=None)
    return Head(seq=row["position"], hash=row["hash"].hex(), at=row["at"])


async def verify_chain(conn: asyncpg.Connection, batch: int = 1000) -> ChainReport:
    """Seal what is committed, then walk the chain from the start; the first broken link, or the head."""
    await seal(conn, wait=True)
    prev, count, after = GENESIS, 0, 0
    while rows := await conn.fetch(queries.WALK, after, batch):
        for row in rows:
            event = Event(
                seq=row["position"], at=row["at"], actor=row["actor"], role=row["role"], agency=row["agency_code"],
                action=row["action"], subject=row["subject"], details=row["details"],
            )  # fmt: skip
            if row["position"] != count + 1 or row["prev_hash"] != prev or row["hash"] != link(prev, event):
                return ChainReport(count=count, head=prev.hex(), broken_at=row["position"])
            prev, count, after = row["hash"], count + 1, row["position"]
    return ChainReport(count=count, head=prev.hex())
