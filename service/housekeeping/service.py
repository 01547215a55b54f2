"""Housekeeping: nonces and idempotency keys past their retention, expired drafts, card sign-ins and rate counters."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg
import msgspec

from service.applicants.service import purge_expired_sign_in
from service.drafts.service import purge_expired_drafts
from service.housekeeping import queries
from service.ratelimit.service import purge_passed
from service.settings import Settings


class Retention(msgspec.Struct, frozen=True, kw_only=True):
    nonces: dt.timedelta
    """After a nonce was used or expired."""
    idempotency: dt.timedelta
    """After an idempotency key was stored."""
    batch: int
    """Rows per transaction: each batch commits on its own, so intake never waits long for a lock."""
    max_batches: int = 1000
    """Per table and run: a backlog is worked off over several runs rather than in one long one."""


class Purged(msgspec.Struct, frozen=True):
    nonces: int
    idempotency: int
    drafts: int = 0
    sign_ins: int = 0
    rate_limits: int = 0


async def _in_batches(
    conn: asyncpg.Connection, delete: Callable[[asyncpg.Connection, dt.datetime, int], Awaitable[int]],
    cutoff: dt.datetime, retention: Retention,
) -> int:  # fmt: skip
    total = 0
    for _ in range(retention.max_batches):
        async with conn.transaction():
            deleted = await delete(conn, cutoff, retention.batch)
        total += deleted
        if deleted < retention.batch:
            break
        await asyncio.sleep(0)  # let requests waiting on this loop run between batches
    return total


async def purge(conn: asyncpg.Connection, now: dt.datetime, retention: Retention) -> Purged:
    """Delete what ``now`` says is past its retention; ``now`` is passed in so that tests move the clock.

    ``conn`` must not be inside a transaction: every batch is a transaction of its own.
    """
    # Drafts and sign-in sessions carry their own expiry: what expired by now goes.
    return Purged(
        nonces=await _in_batches(conn, queries.delete_nonces, now - retention.nonces, retention),
        idempotency=await _in_batches(conn, queries.delete_idempotency, now - retention.idempotency, retention),
        drafts=await _in_batches(conn, purge_expired_drafts, now, retention),
        sign_ins=await _in_batches(conn, purge_expired_sign_in, now, retention),
        rate_limits=await _in_batches(conn, purge_passed, now, retention),
    )


def retention(settings: Settings) -> Retention:
    return Retention(
        nonces=dt.timedelta(seconds=settings.nonce_retention_seconds),
        idempotency=dt.timedelta(seconds=settings.idempotency_retention_seconds),
        batch=settings.housekeeping_batch_size,
    )
