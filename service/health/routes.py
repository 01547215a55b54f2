"""``/healthz``: the process answers. ``/readyz``: it can also reach its database."""

from __future__ import annotations

import asyncio
from typing import Final

import asyncpg
import msgspec
import structlog
from litestar import get
from litestar.datastructures import State

from service.db import Database, DatabaseUnavailable, unavailable_reason
from service.health import queries
from service.problems import ServiceUnavailable

READY_TIMEOUT_S: Final = 2.0
log = structlog.get_logger("shinsei.health")


class Health(msgspec.Struct, frozen=True):
    status: str


@get("/healthz", tags=["health"], summary="Liveness", opt={"credentials": "ignored"})
async def healthz() -> Health:
    return Health("ok")


@get("/readyz", tags=["health"], summary="Readiness: the database answers", opt={"credentials": "ignored"})
async def readyz(state: State) -> Health:
    database: Database = state.database
    try:
        # The whole check, release included, within its bound: a frozen server must not hold it.
        async with asyncio.timeout(READY_TIMEOUT_S), database.connection() as conn:
            await conn.fetchval(queries.PING, timeout=READY_TIMEOUT_S)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError, DatabaseUnavailable) as exc:
        log.warning("database_unavailable", reason=unavailable_reason(exc), check="readyz")
        raise ServiceUnavailable(
            "The database is not reachable.", retry_after=state.settings.retry_after_seconds
        ) from None
    return Health("ready")
