"""The delivery worker: claims due deliveries, sends them signed, records what happened.

At least once: a delivery stays pending until a 2xx, and a worker that dies between sending and
recording leaves it to be sent again when its lease ends (same ``webhook-id``, the receiver's key
for duplicates). In order per application: the claim takes only the oldest pending delivery of a
subject, so event N+1 waits while N is pending (being attempted or backing off); once N is
delivered or dead, N+1 goes. Any number of workers, in any number of processes, claim side by side
(``FOR UPDATE SKIP LOCKED``); each runs a batch's requests concurrently and never holds a database
transaction across a request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import random
import ssl
import time
from collections.abc import Callable
from typing import Final

import asyncpg
import httpx
import msgspec
import structlog

from service.db import Database
from service.events.schemas import EventOut
from service.settings import Settings
from service.webhooks import queries, signature, targets

log = structlog.get_logger("shinsei.webhooks")
_encoder: Final = msgspec.json.Encoder()
#: A job run stops after this many batches even if more are due: the next run goes on.
MAX_BATCHES: Final = 100
#: Beyond the request's own time limit, how long a claimed delivery is left to its worker.
LEASE_MARGIN: Final = dt.timedelta(seconds=60)


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    at: dt.datetime
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def http_client(settings: Settings, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The client of every delivery: certificates verified, no redirects, bounded in time.

    No keep-alive: connections are made to a checked address with the endpoint's name for TLS
    (SNI and certificate), and a pooled connection to the same address made for another name must
    not be reused. No proxy from the environment either: the address check would be the proxy's.
    ``verify`` is the system's CAs; a test passes a context that trusts its own CA (never ``False``).
    """
    return httpx.AsyncClient(
        verify=verify,
        follow_redirects=False,
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        limits=httpx.Limits(max_keepalive_connections=0),
        trust_env=False,
    )


def backoff(attempts: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> dt.timedelta:
    """Exponential with equal jitter: between half and all of ``base * 2^(attempts-1)``, at most ``cap``.

    The jitter spreads the retries of a burst that failed together (a receiver that was down), and
    the lower half keeps the growth a receiver can count on.
    """
    delay = min(cap, base * 2 ** min(attempts - 1, 30))
    return dt.timedelta(seconds=delay / 2 + rand() * delay / 2)


def _body(row: asyncpg.Record) -> bytes:
    return _encoder.encode(
        EventOut(id=row["event_id"], type=row["type"], timestamp=row["occurred_at"], data=row["payload"])
    )


async def attempt(
    client: httpx.AsyncClient,
    row: asyncpg.Record,
    settings: Settings,
    clock: Callable[[], dt.datetime],
    resolver: targets.Resolver = targets.system_resolver,
) -> Attempt:
    """One signed POST of one event to one endpoint; never raises for the receiver's or the network's faults."""
    at = clock()
    started = time.perf_counter()

    def done(status: int | None, error: str | None) -> Attempt:
        elapsed = round((time.perf_counter() - started) * 1000)
        return Attempt(at=at, status=status, error=error[:500] if error else None, duration_ms=elapsed)

    try:
        # The name's lookup counts against the attempt's time limit too (a resolver can hang).
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            target = await targets.resolve(row["url"], development=settings.env == "development", resolver=resolver)
    except targets.TargetRefused as exc:
        return done(None, f"refused: {exc.detail}")
    except TimeoutError:
        return done(None, f"no answer within {settings.webhook_timeout_seconds:g} s (name lookup)")
    body = _body(row)
    message_id = str(row["event_id"])
    timestamp = int(at.timestamp())
    keys = [row["secret"], *([row["previous_secret"]] if row["previous_secret"] else [])]
    url = httpx.URL(row["url"])
    headers = {
        "host": url.netloc.decode("ascii"),
        "content-type": "application/json",
        "user-agent": "shinsei-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature.sign(keys, message_id, timestamp, body),
    }
    extensions = {}
    if target.scheme == "https" and not _is_address(target.host):
        extensions["sni_hostname"] = target.host  # TLS checks the certificate against the name, not the address
    try:
        async with (
            asyncio.timeout(settings.webhook_timeout_seconds),
            client.stream(
                "POST", url.copy_with(host=target.address), content=body, headers=headers, extensions=extensions
            ) as response,
        ):
            status = response.status_code
    except (TimeoutError, httpx.TimeoutException):
        return done(None, f"no answer within {settings.webhook_timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return done(None, f"{type(exc).__name__}: {exc}")
    if 300 <= status < 400:
        return done(status, f"HTTP {status}: redirects are not followed")
    return done(status, None if 200 <= status < 300 else f"HTTP {status}")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def deliver_due(
    database: Database,
    client: httpx.AsyncClient,
    settings: Settings,
    clock: Callable[[], dt.datetime],
    *,
    resolver: targets.Resolver = targets.system_resolver,
    rand: Callable[[], float] = random.random,
) -> dict[str, int]:
    """Send every delivery due now, a batch at a time; counts of ``delivered``, ``failed`` and ``dead``."""
    outcome = {"delivered": 0, "failed": 0, "dead": 0}
    lease = dt.timedelta(seconds=settings.webhook_timeout_seconds) + LEASE_MARGIN
    for _ in range(MAX_BATCHES):
        now = clock()
        async with database.transaction() as conn:
            claimed = await queries.claim_due(conn, now, now + lease, settings.webhook_batch_size)
        if not claimed:
            break
        results = await asyncio.gather(*(attempt(client, row, settings, clock, resolver) for row in claimed))
        async with database.transaction() as conn:
            for row, result in zip(claimed, results, strict=True):
                retry_at = clock() + backoff(
                    row["attempts"], settings.webhook_backoff_seconds, settings.webhook_backoff_max_seconds, rand
                )
                state = await queries.record_attempt(
                    conn, row["id"], result.at, result.status, result.error, result.duration_ms, retry_at,
                    result.delivered, settings.webhook_max_attempts,
                )  # fmt: skip
                if state == "delivered":
                    outcome["delivered"] += 1
                elif state == "dead":
                    outcome["dead"] += 1
                    log.warning("webhook_dead", delivery=str(row["id"]), attempts=row["attempts"], error=result.error)
                elif state == "pending":
                    outcome["failed"] += 1
    return outcome
