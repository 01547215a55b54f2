"""The ceiling for bench/ingest.py: a Litestar endpoint that only stores the same multipart bytes with asyncpg."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from litestar import Litestar, Request, post
from litestar.datastructures import UploadFile


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=10)
    async with app.state.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7)")  # workers start together: one creates the table
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bare_submission (id bigserial PRIMARY KEY, document bytea, signature bytea)"
        )
    yield
    await app.state.pool.close()


@post("/bare", request_max_body_size=50 * 1024 * 1024, status_code=201)
async def bare(request: Request[Any, Any, Any]) -> dict[str, int]:
    form = await request.form()
    document = await form["document"].read() if isinstance(form["document"], UploadFile) else b""
    signature = await form["signature"].read() if isinstance(form["signature"], UploadFile) else b""
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        new_id = await conn.fetchval(
            "INSERT INTO bare_submission (document, signature) VALUES ($1, $2) RETURNING id", document, signature
        )
    return {"id": new_id}


app = Litestar([bare], lifespan=[lifespan], logging_config=None)
