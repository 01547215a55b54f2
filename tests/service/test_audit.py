"""The audit trail: append-only in the database itself, hash-chained, linear under concurrency."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.audit import trail
from service.db import init_connection
from tests.conftest import Tokens
from tests.service.test_cli import env_for, run


async def append(db: str, n: int) -> None:
    conn = await asyncpg.connect(db)
    await init_connection(conn)
    try:
        async with conn.transaction():
            await trail.record(
                conn, actor=f"clerk-{n}", role="clerk", agency="MHLW", action="submission.viewed", subject=f"s-{n}"
            )
    finally:
        await conn.close()


async def test_chain_is_linear_with_concurrent_writers(db: str, conn: asyncpg.Connection) -> None:
    await asyncio.gather(*(append(db, n) for n in range(25)))
    report = await trail.verify_chain(conn)
    assert (report.count, report.broken_at) == (25, None)
    assert [r["position"] for r in await conn.fetch("SELECT position FROM audit_event ORDER BY position")] == list(
        range(1, 26)
    )
    assert report.head == (await trail.head(conn)).hash


async def test_the_database_refuses_to_rewrite_history(db: str, conn: asyncpg.Connection) -> None:
    await append(db, 1)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await conn.execute("UPDATE audit_event SET action = 'nothing happened'")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await conn.execute("DELETE FROM audit_event")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await conn.execute("TRUNCATE audit_event")


async def test_appends_do_not_wait_and_sealing_orders_what_committed(db: str, conn: asyncpg.Connection) -> None:
    """A transaction holding an unsealed event blocks neither other appends nor the sealer."""
    slow = await asyncpg.connect(db)
    await init_connection(slow)
    try:
        transaction = slow.transaction()
        await transaction.start()
        await trail.record(slow, actor="slow", role="clerk", agency="MHLW", action="submission.viewed", subject="s-x")
        # Other writers commit while it is still open; nothing waits on it.
        await asyncio.wait_for(asyncio.gather(*(append(db, n) for n in range(5))), timeout=5)
        assert await trail.seal(conn) == 5
        await transaction.commit()
    finally:
        await slow.close()
    report = await trail.verify_chain(conn)
    assert (report.count, report.broken_at) == (6, None)
    order = [r["actor"] for r in await conn.fetch("SELECT actor FROM audit_event ORDER BY position")]
    assert order[-1] == "slow"  # sealed when it committed, after the others
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await conn.execute("UPDATE audit_event SET position = position + 100, hash = hash WHERE actor = 'slow'")


async def test_tampering_behind_the_applications_back_is_found(db: str, conn: asyncpg.Connection) -> None:
    for n in range(4):
        await append(db, n)
    await trail.seal(conn)  # the chain protects what is sealed; the guard protects the rest meanwhile
    # A superuser can switch the guard off; the chain still tells.
    await conn.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change")
    await conn.execute("UPDATE audit_event SET subject = 's-forged' WHERE position = 2")
    await conn.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change")
    report = await trail.verify_chain(conn)
    assert (report.broken_at, report.count) == (2, 1)
    result = await asyncio.to_thread(run, ["audit", "verify"], env_for(db))
    assert result.returncode == 1
    assert result.stdout.startswith("broken at event 2")


async def test_actions_are_recorded_and_the_head_published(
    client: AsyncTestClient[Litestar], tokens: Tokens, conn: asyncpg.Connection, db: str
) -> None:
    admin = await tokens.header("admin")
    created = await client.post("/api/v1/tokens", json={"role": "clerk", "agency": "MHLW"}, headers=admin)
    await client.delete(f"/api/v1/tokens/{created.json()['info']['id']}", headers=admin)
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_event ORDER BY seq")]
    assert actions == ["token.issued", "token.revoked"]
    head = (await client.get("/api/v1/audit/head", headers=admin)).json()
    assert (head["seq"], head["hash"]) == (2, (await trail.verify_chain(conn)).head)
    clerk = await tokens.header("clerk", "MHLW")
    assert (await client.get("/api/v1/audit/head", headers=clerk)).status_code == 403
    result = await asyncio.to_thread(run, ["audit", "verify"], env_for(db))
    assert (result.returncode, result.stdout.strip()) == (0, f"2 events; head {head['hash']}")


def test_the_revision_statement_takes_the_struct_in_order() -> None:
    """NewRevision's fields are INSERT_REVISION's parameters, in order: one per placeholder, none missing."""
    import re

    from service.submissions import queries

    used = {int(n) for n in re.findall(r"\$(\d+)", queries.INSERT_REVISION)}
    assert used == set(range(1, len(queries.NewRevision.__struct_fields__) + 1))
