"""Rate limits of the anonymous endpoints that create state: draft creation and card sign-in challenges.

Each endpoint (a *bucket*) lets one client address make ``burst`` requests at once and then
``per_minute`` a minute on average (GCRA, a token bucket kept as one timestamp). The counter is a row
in PostgreSQL rather than memory: ``shinsei serve --workers N`` and several hosts share one database,
and an in-process bucket would let a client through N times as often (or, divided by N, refuse it
when its requests happen to land on one process). These endpoints write a row anyway, so the limit
adds one statement on the connection the request already holds, and no service to run.

Only requests that go through are counted: a request refused for another reason rolls its turn back
with its transaction, and creates nothing either. The address is kept as its SHA-256 only, and rows
are purged by housekeeping once their time has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from typing import Any, Final

import asyncpg
import msgspec
from litestar import Request

from service.problems import TooManyRequests
from service.ratelimit import queries
from service.settings import Settings

DRAFTS: Final = "draft"
CHALLENGES: Final = "applicant-challenge"


class RateLimit(msgspec.Struct, frozen=True, kw_only=True):
    per_minute: float
    """Sustained requests a minute per client address; 0 turns the limit off."""
    burst: int
    """Requests a client may make at once before the sustained rate applies."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimit:
        return cls(per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)


def client_address(request: Request[Any, Any, Any]) -> str:
    """The address a request came from, as the server saw it.

    Behind a reverse proxy, uvicorn puts the address from ``X-Forwarded-For`` here when the proxy is
    one it trusts (``FORWARDED_ALLOW_IPS``, 127.0.0.1 by default); otherwise every client would share
    the proxy's address and its limit.
    """
    return request.client.host if request.client is not None else "unknown"


async def take_turn(conn: asyncpg.Connection, bucket: str, client: str, limit: RateLimit, now: dt.datetime) -> None:
    """Go ahead, or raise ``TooManyRequests`` (429) with the seconds until the client's next turn."""
    if limit.per_minute <= 0:
        return
    interval = dt.timedelta(minutes=1) / limit.per_minute
    tolerance = interval * (limit.burst - 1)
    digest = hashlib.sha256(client.encode()).digest()
    if await queries.take_turn(conn, bucket, digest, now, interval, tolerance):
        return
    tat = await queries.tat(conn, bucket, digest)
    wait = (tat - tolerance - now).total_seconds() if tat is not None else 1
    raise TooManyRequests(
        f"Too many requests from this address; try again in {max(1, math.ceil(wait))} s.",
        retry_after=max(1, math.ceil(wait)),
    )


async def purge_passed(conn: asyncpg.Connection, now: dt.datetime, limit: int) -> int:
    """Delete counters whose time has passed (housekeeping): they would let the next request through anyway."""
    return await queries.delete_passed(conn, now, limit)
