"""The audit trail: every action appended to a hash chain that the database will not let anyone edit."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Final, LiteralString

import asyncpg
import msgspec

from service.metrics import context as metrics
from signing import canonical

#: Serialises appends so the chain stays linear with concurrent writers ("AUDT").
LOCK_KEY: Final = 0x41554454
GENESIS: Final = bytes(32)

LOCK: Final[LiteralString] = "SELECT pg_advisory_xact_lock($1)"
HEAD: Final[LiteralString] = "SELECT seq, hash, at FROM audit_event ORDER BY seq DESC LIMIT 1"
INSERT: Final[LiteralString] = """
    INSERT INTO audit_event (seq, at, actor, role, agency_code, action, subject, details, prev_hash, hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"""
WALK: Final[LiteralString] = """
    SELECT seq, at, actor, role, agency_code, action, subject, details, prev_hash, hash
    FROM audit_event WHERE seq > $1 ORDER BY seq LIMIT $2"""


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """What is hashed. ``details`` must hold no personal data: ids, codes, counts."""

    seq: int
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
) -> Head:
    """Append one event inside the caller's transaction (it commits or vanishes with the action)."""
    with metrics.audit_append():  # the wait for the chain's lock is what this measures
        await conn.execute(LOCK, LOCK_KEY)
        head = await conn.fetchrow(HEAD)
        seq = head["seq"] + 1 if head else 1
        prev_hash = head["hash"] if head else GENESIS
        # Microseconds, UTC: exactly what timestamptz keeps, so the hash can be recomputed from the row.
        moment = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        event = Event(
            seq=seq, at=moment, actor=actor, role=role, agency=agency, action=action, subject=subject,
            details=details or {},
        )  # fmt: skip
        digest = link(prev_hash, event)
        await conn.execute(INSERT, seq, moment, actor, role, agency, action, subject, event.details, prev_hash, digest)
    return Head(seq=seq, hash=digest.hex(), at=moment)


async def head(conn: asyncpg.Connection) -> Head:
    row = await conn.fetchrow(HEAD)
    if row is None:
        return Head(seq=0, hash=GENESIS.hex(), at=None)
    return Head(seq=row["seq"], hash=row["hash"].hex(), at=row["at"])


async def verify_chain(conn: asyncpg.Connection, batch: int = 1000) -> ChainReport:
    """Walk the chain from the start; report the first broken link, or the head and the count."""
    prev, count, after = GENESIS, 0, 0
    while rows := await conn.fetch(WALK, after, batch):
        for row in rows:
            event = Event(
                seq=row["seq"], at=row["at"], actor=row["actor"], role=row["role"], agency=row["agency_code"],
                action=row["action"], subject=row["subject"], details=row["details"],
            )  # fmt: skip
            if row["seq"] != count + 1 or row["prev_hash"] != prev or row["hash"] != link(prev, event):
                return ChainReport(count=count, head=prev.hex(), broken_at=row["seq"])
            prev, count, after = row["hash"], count + 1, row["seq"]
    return ChainReport(count=count, head=prev.hex())
