"""Webhook endpoints: agency admins register, change, rotate and delete them, and see their deliveries.

The secret is in two responses only (creation and rotation). Another agency's endpoint is absent
(404), as every agency object is.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from service.audit import trail
from service.auth.principal import require_role
from service.auth.schemas import Principal
from service.pagination import Page, decode_cursor, encode_cursor, page
from service.problems import Forbidden, InvalidBody, NotFound
from service.validation import FieldProblem
from service.webhooks import queries, signature, targets
from service.webhooks.schemas import DeliveryOut, IssuedWebhook, RotateIn, WebhookIn, WebhookOut, WebhookPatch


async def check_url(url: str, *, development: bool, resolver: targets.Resolver = targets.system_resolver) -> None:
    """The same check the worker makes before every attempt, made early so that a typo is a 422 now."""
    try:
        await targets.resolve(url, development=development, resolver=resolver)
    except targets.TargetRefused as exc:
        raise InvalidBody(
            f"The URL cannot receive webhooks: {exc.detail}.",
            errors=[FieldProblem(pointer="/url", code=exc.code, detail=exc.detail)],
        ) from None


def _agency(who: Principal, requested: str | None) -> str:
    if who.role == "agency-admin":
        if requested not in (None, who.agency_code):
            raise Forbidden("An agency admin registers endpoints for its own agency only.")
        assert who.agency_code is not None  # agency roles always have one (api_token's CHECK)
        return who.agency_code
    if requested is None:
        raise InvalidBody(
            "A platform admin names the agency whose events the endpoint receives.",
            errors=[FieldProblem(pointer="/agency", code="required", detail="is required for a platform admin")],
        )
    return requested


async def _owned(conn: asyncpg.Connection, who: Principal, endpoint_id: uuid.UUID) -> WebhookOut:
    require_role(who, "admin", "agency-admin")
    found = await queries.endpoint(conn, endpoint_id)
    if found is None or not who.acts_for(found.agency):
        raise NotFound(f"There is no webhook endpoint {endpoint_id}.")
    return found


async def create(conn: asyncpg.Connection, who: Principal, data: WebhookIn, *, development: bool) -> IssuedWebhook:
    require_role(who, "admin", "agency-admin")
    agency = _agency(who, data.agency)
    await check_url(data.url, development=development)
    secret = signature.new_secret()
    try:
        created = await queries.insert_endpoint(
            conn, agency, data.url, sorted(set(data.event_types)), data.active, data.description, secret
        )
    except asyncpg.ForeignKeyViolationError:
        raise InvalidBody(
            f"There is no agency {agency}.",
            errors=[FieldProblem(pointer="/agency", code="unknown_agency", detail="is not a known agency")],
        ) from None
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=agency, action="webhook.created", subject=str(created.id),
        details={"event_types": created.event_types},
    )  # fmt: skip
    return IssuedWebhook(secret=secret, webhook=created)


async def list_endpoints(
    conn: asyncpg.Connection, who: Principal, agency: str | None, cursor: str | None, limit: int
) -> Page[WebhookOut]:
    require_role(who, "admin", "agency-admin")
    if not who.is_admin:
        agency = who.agency_code
    after = decode_cursor(cursor, dt.datetime, uuid.UUID)
    rows = await queries.list_endpoints(conn, agency, (after[0], after[1]) if after else None, limit + 1)
    return page(rows, limit, lambda w: (w.created_at.isoformat(), str(w.id)))


async def get(conn: asyncpg.Connection, who: Principal, endpoint_id: uuid.UUID) -> WebhookOut:
    return await _owned(conn, who, endpoint_id)


async def update(
    conn: asyncpg.Connection, who: Principal, endpoint_id: uuid.UUID, patch: WebhookPatch, *, development: bool
) -> WebhookOut:
    current = await _owned(conn, who, endpoint_id)
    url = current.url if patch.url is msgspec.UNSET else patch.url
    if url != current.url:
        await check_url(url, development=development)
    event_types: list[str] = (
        current.event_types if patch.event_types is msgspec.UNSET else sorted(set(patch.event_types))
    )
    active = current.active if patch.active is msgspec.UNSET else patch.active
    description = current.description if patch.description is msgspec.UNSET else patch.description
    updated = await queries.update_endpoint(conn, endpoint_id, url, event_types, active, description)
    assert updated is not None  # found above, in this transaction
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=current.agency, action="webhook.updated",
        subject=str(endpoint_id),
        details={"active": active, "event_types": event_types, "url_changed": url != current.url},
    )  # fmt: skip
    return updated


async def rotate(
    conn: asyncpg.Connection, who: Principal, endpoint_id: uuid.UUID, data: RotateIn, now: dt.datetime
) -> IssuedWebhook:
    """A new secret; the previous one keeps signing beside it for ``overlap_seconds`` (0: stops now)."""
    current = await _owned(conn, who, endpoint_id)
    secret = signature.new_secret()
    rotated = await queries.rotate_secret(conn, endpoint_id, secret, dt.timedelta(seconds=data.overlap_seconds), now)
    assert rotated is not None
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=current.agency, action="webhook.secret_rotated",
        subject=str(endpoint_id), details={"overlap_seconds": data.overlap_seconds},
    )  # fmt: skip
    return IssuedWebhook(secret=secret, webhook=rotated)


async def delete(conn: asyncpg.Connection, who: Principal, endpoint_id: uuid.UUID) -> None:
    """The endpoint goes with its deliveries' history; the events stay in the feed."""
    current = await _owned(conn, who, endpoint_id)
    await queries.delete_endpoint(conn, endpoint_id)
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=current.agency, action="webhook.deleted",
        subject=str(endpoint_id),
    )  # fmt: skip


async def list_deliveries(
    conn: asyncpg.Connection,
    who: Principal,
    endpoint_id: uuid.UUID,
    state: str | None,
    cursor: str | None,
    limit: int,
) -> Page[DeliveryOut]:
    """Newest event first."""
    await _owned(conn, who, endpoint_id)
    before = decode_cursor(cursor, int)
    rows = await queries.list_deliveries(conn, endpoint_id, state, before[0] if before else None, limit + 1)
    if len(rows) > limit:
        return Page([d for _, d in rows[:limit]], encode_cursor(rows[limit - 1][0]))
    return Page([d for _, d in rows], None)


async def delivery(
    conn: asyncpg.Connection, who: Principal, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryOut:
    await _owned(conn, who, endpoint_id)
    found = await queries.delivery(conn, endpoint_id, delivery_id)
    if found is None:
        raise NotFound(f"There is no delivery {delivery_id} of webhook endpoint {endpoint_id}.")
    return found


async def retry(
    conn: asyncpg.Connection, who: Principal, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, now: dt.datetime
) -> DeliveryOut:
    """Due now with a fresh count of attempts, whatever its state.

    A dead one is revived; a delivered one is sent again (same ``webhook-id``, so a receiver that
    has it can tell).
    """
    current = await _owned(conn, who, endpoint_id)
    if not await queries.retry(conn, endpoint_id, delivery_id, now):
        raise NotFound(f"There is no delivery {delivery_id} of webhook endpoint {endpoint_id}.")
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=current.agency, action="webhook.delivery_retried",
        subject=str(delivery_id),
    )  # fmt: skip
    found = await queries.delivery(conn, endpoint_id, delivery_id)
    assert found is not None
    return found
