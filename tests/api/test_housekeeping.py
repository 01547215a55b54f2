"""Housekeeping with a clock that moves: what is deleted when, what is kept for ever, and no waiting on intake."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import housekeep_periodically
from service.db import Database
from service.housekeeping.service import Purged, Retention, purge
from service.metrics.collectors import Metrics
from service.settings import Settings
from tests import pki
from tests.api.test_submissions import add_ocsp, document, new_nonce, parts
from tests.service.test_cli import env_for, run

RETENTION = Retention(nonces=dt.timedelta(hours=1), idempotency=dt.timedelta(hours=2), batch=2)


async def nonces(conn: asyncpg.Connection) -> set[str]:
    return {r["nonce"] for r in await conn.fetch("SELECT nonce FROM nonce")}


async def test_purge_as_the_clock_moves(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    signed = await new_nonce(client)
    doc = document(signed)
    await add_ocsp(conn, "applicant")
    signature = await asyncio.to_thread(pki.sign_pyhanko, "applicant", doc)
    response = await client.post(
        "/api/v1/submissions", files=parts(doc, [signature]), headers={"Idempotency-Key": "k1"}
    )
    assert response.status_code == 201, response.text
    used = await new_nonce(client)  # used by something that keeps no revision (as a withdrawal does)
    await conn.execute("UPDATE nonce SET consumed_at = now() WHERE nonce = $1", used)
    unused = {await new_nonce(client) for _ in range(5)}  # expire after SHINSEI_NONCE_LIFETIME_SECONDS (a day)
    t0 = dt.datetime.now(dt.UTC)

    async def purge_at(later: dt.timedelta) -> Purged:
        fresh = await asyncpg.connect(db)  # outside any transaction: each batch commits on its own
        try:
            return await purge(fresh, t0 + later, RETENTION)
        finally:
            await fresh.close()

    assert await purge_at(dt.timedelta(0)) == Purged(nonces=0, idempotency=0)
    assert await purge_at(dt.timedelta(minutes=61)) == Purged(nonces=1, idempotency=0)
    assert await nonces(conn) == {signed} | unused
    assert await purge_at(dt.timedelta(minutes=121)) == Purged(nonces=0, idempotency=1)
    assert await conn.fetchval("SELECT count(*) FROM idempotency") == 0
    # Five expired nonces in batches of two: three transactions, all of them deleted.
    assert await purge_at(dt.timedelta(hours=26)) == Purged(nonces=5, idempotency=0)
    # The signed nonce stays: its revision names it, and its issue time bounds the signing time.
    assert await nonces(conn) == {signed}
    assert await purge_at(dt.timedelta(days=400)) == Purged(nonces=0, idempotency=0)


async def test_purge_skips_what_intake_holds(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    held, free = await new_nonce(client), await new_nonce(client)
    await conn.execute("UPDATE nonce SET consumed_at = now() - interval '2 hours'")
    intake = await asyncpg.connect(db)
    try:
        async with intake.transaction():
            # As CONSUME_NONCE does: the row is locked until intake commits.
            await intake.execute("SELECT 1 FROM nonce WHERE nonce = $1 FOR UPDATE", held)
            fresh = await asyncpg.connect(db)
            try:
                purged = await asyncio.wait_for(purge(fresh, dt.datetime.now(dt.UTC), RETENTION), timeout=10)
            finally:
                await fresh.close()
    finally:
        await intake.close()
    assert purged == Purged(nonces=1, idempotency=0)
    assert await nonces(conn) == {held}
    assert free not in await nonces(conn)


async def test_the_cron_command_reads_its_retention_from_the_environment(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    await new_nonce(client)
    await conn.execute("UPDATE nonce SET consumed_at = now() - interval '10 minutes'")
    kept = run(["housekeeping"], env_for(db))
    assert (kept.returncode, kept.stdout) == (
        0,
        "deleted 0 nonces, 0 idempotency keys, 0 expired drafts, 0 expired card sign-ins and 0 spent rate counters\n",
    ), kept.stderr
    purged = run(["housekeeping"], env_for(db, SHINSEI_NONCE_RETENTION_SECONDS="300"))
    assert (purged.returncode, purged.stdout) == (
        0,
        "deleted 1 nonces, 0 idempotency keys, 0 expired drafts, 0 expired card sign-ins and 0 spent rate counters\n",
    ), purged.stderr
    assert purged.stderr == ""


class Stop(Exception):
    pass


async def test_the_periodic_job_as_time_passes(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection, db: str, settings: Settings
) -> None:
    """The server's job, run with a clock that jumps an hour at each of its sleeps."""
    nonce = await new_nonce(client)
    t0 = dt.datetime.now(dt.UTC)
    await conn.execute("UPDATE nonce SET consumed_at = $1 WHERE nonce = $2", t0 + dt.timedelta(minutes=30), nonce)
    hourly = msgspec.structs.replace(settings, housekeeping_seconds=3600, nonce_retention_seconds=3600)
    clock, seen = [t0], []

    async def sleep(seconds: float) -> None:
        seen.append(await nonces(conn))  # what the previous run left
        if len(seen) == 3:
            raise Stop
        clock[0] += dt.timedelta(seconds=seconds)

    metrics = Metrics()
    pool = await asyncpg.create_pool(db, min_size=1, max_size=1)
    try:
        with pytest.raises(Stop):
            await housekeep_periodically(Database(pool, hourly), hourly, metrics, clock=lambda: clock[0], sleep=sleep)
    finally:
        await pool.close()
    # At t0 + 1h the cutoff is t0: the nonce, used at t0 + 30 min, stays; at t0 + 2h it goes.
    assert seen == [{nonce}, {nonce}, set()]
    assert metrics.registry.get_sample_value("shinsei_housekeeping_deleted_rows_total", {"table": "nonce"}) == 1
