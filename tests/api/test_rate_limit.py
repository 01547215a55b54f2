"""Rate limits of anonymous endpoints that create state: draft creation and card sign-in challenges."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.housekeeping.service import Retention, purge
from service.problems import TooManyRequests
from service.ratelimit import service as ratelimit
from service.ratelimit.service import RateLimit
from service.settings import Settings

Client = AsyncTestClient[Litestar]
PROBLEMS = "https://shinsei.example/problems/"
DRAFT = {"form_id": "t-overtime", "answers": {}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two at once, then one a second."""
    return msgspec.structs.replace(settings, rate_limit_per_minute=60, rate_limit_burst=2)


async def test_over_the_limit_is_a_429_with_retry_after(client: Client, admin: dict[str, str]) -> None:
    for _ in range(2):
        assert (await client.post("/api/v1/drafts", json=DRAFT)).status_code == 201
    refused = await client.post("/api/v1/drafts", json=DRAFT)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    problem = refused.json()
    assert (problem["type"], problem["status"], problem["title"]) == (
        PROBLEMS + "too-many-requests",
        429,
        "Too many requests from this address.",
    )
    assert problem["detail"] == "Too many requests from this address; try again in 1 s."

    # Each endpoint has its own count: challenges are still let through, then limited alike.
    for _ in range(2):
        assert (await client.post("/api/v1/applicant/challenge")).status_code == 201
    assert (await client.post("/api/v1/applicant/challenge")).status_code == 429

    # Endpoints that need a token are not limited: a draft is read as often as its holder likes.
    await asyncio.sleep(1.05)  # one turn back
    created = await client.post("/api/v1/drafts", json=DRAFT)
    assert created.status_code == 201, created.text
    token = {"Authorization": f"Bearer {created.json()['draft_token']}"}
    for _ in range(5):
        assert (await client.get(f"/api/v1/drafts/{created.json()['draft_id']}", headers=token)).status_code == 200


async def test_the_count_is_shared_by_every_process(
    client: Client, admin: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    """A second app on the same database (another worker, another host) sees the first one's count."""
    async with AsyncTestClient(create_app(settings)) as other:
        assert (await client.post("/api/v1/drafts", json=DRAFT)).status_code == 201
        assert (await other.post("/api/v1/drafts", json=DRAFT)).status_code == 201
        assert (await client.post("/api/v1/drafts", json=DRAFT)).status_code == 429
        assert (await other.post("/api/v1/drafts", json=DRAFT)).status_code == 429
    # The address is kept as its digest only.
    rows = await conn.fetch("SELECT bucket, client FROM rate_limit")
    assert [(r["bucket"], r["client"]) for r in rows] == [("draft", hashlib.sha256(b"testclient").digest())]


async def test_refused_requests_are_not_counted_and_zero_turns_it_off(
    client: Client, admin: dict[str, str], settings: Settings
) -> None:
    # A request refused for another reason rolls back its turn with its transaction (it made nothing).
    for _ in range(4):
        unknown = await client.post("/api/v1/drafts", json={"form_id": "no-such-form", "answers": {}})
        assert unknown.status_code == 404
    for _ in range(2):
        assert (await client.post("/api/v1/drafts", json=DRAFT)).status_code == 201
    assert (await client.post("/api/v1/drafts", json=DRAFT)).status_code == 429

    unlimited = msgspec.structs.replace(settings, rate_limit_per_minute=0)
    async with AsyncTestClient(create_app(unlimited)) as other:
        for _ in range(5):
            assert (await other.post("/api/v1/drafts", json=DRAFT)).status_code == 201


async def test_the_bucket_refills_at_the_rate(conn: asyncpg.Connection) -> None:
    """GCRA with the clock passed in: a burst of 3, then one every 20 s (3 a minute)."""
    limit = RateLimit(per_minute=3, burst=3)
    start = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

    async def take(at: dt.timedelta) -> int | None:
        """None when let through, else the Retry-After."""
        try:
            async with conn.transaction():
                await ratelimit.take_turn(conn, ratelimit.DRAFTS, "192.0.2.1", limit, start + at)
        except TooManyRequests as exc:
            return int(exc.headers["Retry-After"])
        return None

    assert [await take(dt.timedelta(0)) for _ in range(3)] == [None, None, None]
    assert await take(dt.timedelta(seconds=1)) == 19  # the next turn comes 20 s after the burst began
    assert await take(dt.timedelta(seconds=20)) is None
    assert await take(dt.timedelta(seconds=21)) == 19
    assert [await take(dt.timedelta(minutes=5)) for _ in range(4)] == [None, None, None, 20]  # a full burst again
    # Another address, another count.
    async with conn.transaction():
        await ratelimit.take_turn(conn, ratelimit.DRAFTS, "192.0.2.2", limit, start + dt.timedelta(minutes=5))

    # Housekeeping deletes counters whose time has passed: they would let the next request through anyway.
    retention = Retention(nonces=dt.timedelta(days=1), idempotency=dt.timedelta(days=1), batch=100)
    assert (await purge(conn, start + dt.timedelta(minutes=5, seconds=30), retention)).rate_limits == 1
    assert (await purge(conn, start + dt.timedelta(hours=1), retention)).rate_limits == 1
    assert await conn.fetchval("SELECT count(*) FROM rate_limit") == 0


async def test_the_openapi_document_lists_the_429(client: Client) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert "429" in paths["/api/v1/drafts"]["post"]["responses"]
    assert "429" in paths["/api/v1/applicant/challenge"]["post"]["responses"]
    assert "429" not in paths["/api/v1/drafts/{draft_id}"]["get"]["responses"]
