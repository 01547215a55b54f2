"""Intake's seams: the clock the app is given is the time it records, and each attachment is written once."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from tests import pki
from tests.api.conftest import arrange
from tests.api.test_submissions import PDF, document, new_nonce, parts
from tests.conftest import Tokens

#: Ten minutes ahead of the wall clock, to the microsecond: a time no system clock would give.
FIXED = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).replace(microsecond=123456)


@pytest.fixture
async def fixed_client(settings: Settings, tokens: Tokens) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(create_app(settings, clock=lambda: FIXED)) as client:
        await arrange(client, tokens)
        yield client


async def test_the_app_records_the_time_of_the_clock_it_is_given(
    fixed_client: AsyncTestClient[Litestar], conn: asyncpg.Connection
) -> None:
    nonce = await new_nonce(fixed_client)
    doc = document(nonce)
    response = await fixed_client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)]))
    assert response.status_code == 201, response.text
    assert dt.datetime.fromisoformat(response.json()["received_at"]) == FIXED
    stored = await conn.fetchval("SELECT received_at FROM revision")
    assert stored == FIXED
    receipt = msgspec.json.decode(await conn.fetchval("SELECT receipt_json FROM revision"))
    assert dt.datetime.fromisoformat(receipt["received_at"]) == FIXED


async def test_each_attachment_is_written_once(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    nonce = await new_nonce(client)
    doc = document(nonce)
    response = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)], [PDF]))
    assert response.status_code == 201, response.text
    assert await conn.fetchval("SELECT content FROM attachment") == PDF
    # The statistics collector sees the server's writes within a second or so of its COMMIT.
    inserted = updated = 0
    for _ in range(100):
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await conn.fetchrow("SELECT n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'attachment'")
        inserted, updated = row["n_tup_ins"], row["n_tup_upd"]
        if inserted:
            break
        await asyncio.sleep(0.1)
    assert (inserted, updated) == (1, 0)
