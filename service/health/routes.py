"""``/healthz``: the process answers. ``/readyz``: it can also reach its database."""

from __future__ import annotations

import asyncio
from typing import Final

import asyncpg
import msgspec
from litestar import get
from litestar.datastructures import State

from service.problems import ServiceUnavailable

READY_TIMEOUT_S: Final = 2.0


class Health(msgspec.Struct, frozen=True):
    status: str


@get("/healthz", tags=["health"], summary="Liveness")
async def healthz() -> Health:
    return Health("ok")


@get("/readyz", tags=["health"], summary="Readiness: the database answers")
async def readyz(state: State) -> Health:
    pool: asyncpg.Pool = state.pool
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await pool.fetchval("SELECT 1")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        raise ServiceUnavailable("The database is not reachable.") from None
    return Health("ready")
