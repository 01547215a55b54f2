"""SQL for webhook endpoints, their deliveries and the delivery worker (migration 0018)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Final, LiteralString

import asyncpg

from service.webhooks.schemas import AttemptOut, DeliveryOut, WebhookOut

_ENDPOINT: Final = """id, agency_code AS agency, url, event_types, active, description,
    previous_expires_at AS previous_secret_expires_at, created_at, updated_at"""

INSERT_ENDPOINT: Final[LiteralString] = f"""
    INSERT INTO webhook_endpoint (agency_code, url, event_types, active, description, secret)
    VALUES ($1, $2, $3, $4, $5, $6)
    RETURNING {_ENDPOINT}"""  # noqa: S608 - a constant column list
SELECT_ENDPOINT: Final[LiteralString] = f"SELECT {_ENDPOINT} FROM webhook_endpoint WHERE id = $1"  # noqa: S608
LIST_ENDPOINTS: Final[LiteralString] = f"""
    SELECT {_ENDPOINT} FROM webhook_endpoint
    WHERE ($1::text IS NULL OR agency_code = $1)
      AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
    ORDER BY created_at, id
    LIMIT $4"""  # noqa: S608
UPDATE_ENDPOINT: Final[LiteralString] = f"""
    UPDATE webhook_endpoint SET url = $2, event_types = $3, active = $4, description = $5, updated_at = now()
    WHERE id = $1
    RETURNING {_ENDPOINT}"""  # noqa: S608
ROTATE_SECRET: Final[LiteralString] = f"""
    UPDATE webhook_endpoint
    SET previous_secret = CASE WHEN $3::interval > interval '0' THEN secret END,
        previous_expires_at = CASE WHEN $3::interval > interval '0' THEN $4::timestamptz + $3::interval END,
        secret = $2, updated_at = now()
    WHERE id = $1
    RETURNING {_ENDPOINT}"""  # noqa: S608
DELETE_ENDPOINT: Final[LiteralString] = "DELETE FROM webhook_endpoint WHERE id = $1"

_DELIVERY: Final = """d.id, o.event_id, o.type AS event_type, d.subject, d.state, d.attempts,
    CASE WHEN d.state = 'pending' THEN d.next_attempt_at END AS next_attempt_at, d.last_status, d.last_error,
    d.delivered_at, d.created_at"""
LIST_DELIVERIES: Final[LiteralString] = f"""
    SELECT {_DELIVERY}, d.event_id AS seq FROM webhook_delivery d JOIN outbox_event o ON o.id = d.event_id
    WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.state = $2) AND ($3::bigint IS NULL OR d.event_id < $3)
    ORDER BY d.event_id DESC
    LIMIT $4"""  # noqa: S608
SELECT_DELIVERY: Final[LiteralString] = f"""
    SELECT {_DELIVERY} FROM webhook_delivery d JOIN outbox_event o ON o.id = d.event_id
    WHERE d.id = $1 AND d.endpoint_id = $2"""  # noqa: S608
SELECT_ATTEMPTS: Final[LiteralString] = """
    SELECT at, status, error, duration_ms FROM webhook_attempt WHERE delivery_id = $1 ORDER BY id DESC LIMIT $2"""
#: A manual retry: due now, with a fresh count of attempts (its history keeps the earlier ones).
RETRY_DELIVERY: Final[LiteralString] = """
    UPDATE webhook_delivery SET state = 'pending', attempts = 0, next_attempt_at = $3, last_error = NULL
    WHERE id = $1 AND endpoint_id = $2
    RETURNING id"""

#: The worker's claim. A delivery is due when its time has come, its endpoint is active, and no
#: earlier event of the same subject is still pending for that endpoint (in order per application:
#: a delivery being attempted is pending too, so its successor waits). Claiming moves
#: next_attempt_at to the end of a lease: a worker that dies mid-way leaves the delivery to be
#: claimed again then. SKIP LOCKED lets several workers, in several processes, claim side by side.
CLAIM_DUE: Final[LiteralString] = """
    WITH due AS (
        SELECT d.id FROM webhook_delivery d JOIN webhook_endpoint e ON e.id = d.endpoint_id
        WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND e.active
          AND NOT EXISTS (
              SELECT 1 FROM webhook_delivery p
              WHERE p.endpoint_id = d.endpoint_id AND p.subject = d.subject AND p.state = 'pending'
                AND p.event_id < d.event_id)
        ORDER BY d.next_attempt_at, d.event_id
        LIMIT $3
        FOR UPDATE OF d SKIP LOCKED
    ), claimed AS (
        UPDATE webhook_delivery d SET attempts = d.attempts + 1, next_attempt_at = $2
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.attempts, d.endpoint_id, d.event_id
    )
    SELECT c.id, c.attempts, e.url, e.secret,
           CASE WHEN e.previous_expires_at > $1 THEN e.previous_secret END AS previous_secret,
           o.event_id, o.type, o.occurred_at, o.payload
    FROM claimed c JOIN webhook_endpoint e ON e.id = c.endpoint_id JOIN outbox_event o ON o.id = c.event_id
    ORDER BY c.event_id"""
#: An attempt's outcome: delivered; or pending again at $6 (backoff); or dead after the last attempt.
#: The attempt is kept in the history of a delivery that still exists (its endpoint may have been
#: deleted meanwhile: then nothing is written, and the batch's other outcomes still are).
RECORD_ATTEMPT: Final[LiteralString] = """
    WITH d AS (
        UPDATE webhook_delivery
        SET state = CASE WHEN $7::boolean THEN 'delivered' WHEN attempts >= $8::integer THEN 'dead' ELSE 'pending' END,
            next_attempt_at = CASE WHEN $7 THEN next_attempt_at ELSE $6::timestamptz END,
            delivered_at = CASE WHEN $7 THEN $2::timestamptz END,
            last_status = $3::integer, last_error = $4::text
        WHERE id = $1 AND state = 'pending'
        RETURNING state
    ), a AS (
        INSERT INTO webhook_attempt (delivery_id, at, status, error, duration_ms)
        SELECT id, $2, $3, $4, $5 FROM webhook_delivery WHERE id = $1
    )
    SELECT state FROM d"""


def _endpoint(row: asyncpg.Record | None) -> WebhookOut | None:
    return None if row is None else WebhookOut(**dict(row))


async def insert_endpoint(
    conn: asyncpg.Connection, agency: str, url: str, event_types: list[str], active: bool, description: str, secret: str
) -> WebhookOut:
    row = _endpoint(await conn.fetchrow(INSERT_ENDPOINT, agency, url, event_types, active, description, secret))
    assert row is not None  # RETURNING always yields a row
    return row


async def endpoint(conn: asyncpg.Connection, endpoint_id: uuid.UUID) -> WebhookOut | None:
    return _endpoint(await conn.fetchrow(SELECT_ENDPOINT, endpoint_id))


async def list_endpoints(
    conn: asyncpg.Connection, agency: str | None, after: tuple[dt.datetime, uuid.UUID] | None, limit: int
) -> list[WebhookOut]:
    created, endpoint_id = after or (None, None)
    return [WebhookOut(**dict(r)) for r in await conn.fetch(LIST_ENDPOINTS, agency, created, endpoint_id, limit)]


async def update_endpoint(
    conn: asyncpg.Connection, endpoint_id: uuid.UUID, url: str, event_types: list[str], active: bool, description: str
) -> WebhookOut | None:
    return _endpoint(await conn.fetchrow(UPDATE_ENDPOINT, endpoint_id, url, event_types, active, description))


async def rotate_secret(
    conn: asyncpg.Connection, endpoint_id: uuid.UUID, secret: str, overlap: dt.timedelta, now: dt.datetime
) -> WebhookOut | None:
    return _endpoint(await conn.fetchrow(ROTATE_SECRET, endpoint_id, secret, overlap, now))


async def delete_endpoint(conn: asyncpg.Connection, endpoint_id: uuid.UUID) -> None:
    await conn.execute(DELETE_ENDPOINT, endpoint_id)


async def list_deliveries(
    conn: asyncpg.Connection, endpoint_id: uuid.UUID, state: str | None, before: int | None, limit: int
) -> list[tuple[int, DeliveryOut]]:
    """Newest event first, each with its outbox sequence (the cursor's key)."""
    rows = await conn.fetch(LIST_DELIVERIES, endpoint_id, state, before, limit)
    out = []
    for row in rows:
        values = dict(row)
        seq = values.pop("seq")
        out.append((seq, DeliveryOut(**values)))
    return out


async def delivery(
    conn: asyncpg.Connection, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, history: int = 100
) -> DeliveryOut | None:
    row = await conn.fetchrow(SELECT_DELIVERY, delivery_id, endpoint_id)
    if row is None:
        return None
    attempts = [AttemptOut(**dict(a)) for a in await conn.fetch(SELECT_ATTEMPTS, delivery_id, history)]
    return DeliveryOut(**dict(row), history=attempts)


async def retry(conn: asyncpg.Connection, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, now: dt.datetime) -> bool:
    return await conn.fetchval(RETRY_DELIVERY, delivery_id, endpoint_id, now) is not None


async def claim_due(
    conn: asyncpg.Connection, now: dt.datetime, lease_until: dt.datetime, limit: int
) -> list[asyncpg.Record]:
    return list(await conn.fetch(CLAIM_DUE, now, lease_until, limit))


async def record_attempt(
    conn: asyncpg.Connection,
    delivery_id: uuid.UUID,
    at: dt.datetime,
    status: int | None,
    error: str | None,
    duration_ms: int,
    next_attempt_at: dt.datetime,
    delivered: bool,
    max_attempts: int,
) -> str | None:
    """The delivery's new state; None when it was no longer pending (retried by hand meanwhile, or deleted)."""
    state: str | None = await conn.fetchval(
        RECORD_ATTEMPT, delivery_id, at, status, error, duration_ms, next_attempt_at, delivered, max_attempts
    )
    return state
