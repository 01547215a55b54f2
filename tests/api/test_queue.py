"""The clerk's queue: agency-scoped lists, and claims that never collide."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.auth import service as auth_service
from service.auth.schemas import Principal, TokenIn
from service.db import init_connection
from service.queue import service as queue_service
from service.submissions.reverify import reverify_pending
from service.trust.service import Verifiers
from tests import pki
from tests.api.test_submissions import add_ocsp, document, new_nonce, parts


async def submit(client: AsyncTestClient[Litestar], count: int) -> list[str]:
    ids = []
    for i in range(count):
        doc = document(await new_nonce(client), workers=i + 1)
        response = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)]))
        assert response.status_code == 201, response.text
        ids.append(response.json()["submission_id"])
    return ids


async def clerk(conn: asyncpg.Connection, agency: str = "MHLW") -> tuple[Principal, dict[str, str]]:
    issued = await auth_service.issue_token(conn, TokenIn(role="clerk", agency=agency))
    return Principal(issued.info.id, "clerk", agency), {"Authorization": f"Bearer {issued.token}"}


async def test_many_concurrent_claimers_never_share(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    conn: asyncpg.Connection,
    db: str,
) -> None:
    ids = await submit(client, 10)
    clerks = [(await clerk(conn))[0] for _ in range(16)]

    async def claim(who: Principal) -> Any:
        connection = await asyncpg.connect(db)
        await init_connection(connection)
        try:
            async with connection.transaction():
                return await queue_service.claim(connection, who)
        finally:
            await connection.close()

    results = await asyncio.gather(*(claim(c) for c in clerks))
    claimed = [r.id for r in results if r is not None]
    assert len(claimed) == len(set(claimed)) == 10
    assert {str(i) for i in claimed} == set(ids)
    assert sum(r is None for r in results) == 6
    rows = await conn.fetch("SELECT status, assignee FROM submission")
    assert {r["status"] for r in rows} == {"under_review"}
    assert len({r["assignee"] for r in rows}) == 10
    assert await conn.fetchval("SELECT count(*) FROM audit_event WHERE action = 'submission.claimed'") == 10


async def test_queue_lists_filters_and_pages(
    client: AsyncTestClient[Litestar],
    admin: dict[str, str],
    conn: asyncpg.Connection,
) -> None:
    ids = await submit(client, 5)
    _, header = await clerk(conn)
    page = (await client.get("/api/v1/queue", params={"limit": 2}, headers=header)).json()
    first = page["items"][0]
    assert first["id"] == ids[0] and first["form_title"] == "試験用協定届" and first["unread"] is True
    assert first["signer"] == "山田 太郎" and first["procedure_name"].startswith("時間外労働")
    seen, cursor = [i["id"] for i in page["items"]], page["next_cursor"]
    while cursor:
        page = (await client.get("/api/v1/queue", params={"limit": 2, "cursor": cursor}, headers=header)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ids  # oldest first, no duplicates, no gaps

    claimed = await client.post("/api/v1/queue/claim", headers=header)
    assert (claimed.status_code, claimed.json()["id"], claimed.json()["status"]) == (200, ids[0], "under_review")
    mine = (await client.get("/api/v1/queue", params={"assigned": "me"}, headers=header)).json()["items"]
    assert [i["id"] for i in mine] == [ids[0]]
    waiting = (
        await client.get("/api/v1/queue", params={"assigned": "none", "status": "received"}, headers=header)
    ).json()
    assert [i["id"] for i in waiting["items"]] == ids[1:]
    unconfirmed = (await client.get("/api/v1/queue", params={"flag": "revocation_unconfirmed"}, headers=header)).json()
    assert len(unconfirmed["items"]) == 5  # the current CRL predates the nonces: passed, to be confirmed
    pending = (await client.get("/api/v1/queue", params={"flag": "verification_pending"}, headers=header)).json()
    assert pending["items"] == []  # EN 319 102-1: a current CRL is fresh, so nothing waits
    assert (await client.get("/api/v1/queue", params={"flag": "identity_mismatch"}, headers=header)).json() == {
        "items": [], "next_cursor": None
    }  # fmt: skip

    # Revocation data issued after the signatures confirms them: the flag leaves with the re-verification.
    await add_ocsp(conn, "applicant")
    async with conn.transaction():
        outcome = await reverify_pending(conn, await Verifiers().current(conn), dt.datetime.now(dt.UTC))
    assert outcome == {"passed": 0, "pending": 0, "failed": 0, "confirmed": 5}
    unconfirmed = (await client.get("/api/v1/queue", params={"flag": "revocation_unconfirmed"}, headers=header)).json()
    assert unconfirmed["items"] == []
    assert {tuple(i["flags"]) for i in (await client.get("/api/v1/queue", headers=header)).json()["items"]} == {()}

    _, other_agency = await clerk(conn, "MLIT")
    assert (await client.get("/api/v1/queue", headers=other_agency)).json()["items"] == []
    assert (await client.post("/api/v1/queue/claim", headers=other_agency)).status_code == 204
    assert (await client.get("/api/v1/queue", headers=admin)).status_code == 403  # platform admins have no queue
