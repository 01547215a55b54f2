"""Webhook endpoints of an agency, their secrets and their delivery history (agency admins)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from service.auth.principal import Caller, allow, authenticate
from service.db import Conn
from service.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from service.services import Injected
from service.webhooks import service
from service.webhooks.schemas import (
    DeliveryOut,
    DeliveryState,
    IssuedWebhook,
    RotateIn,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)


class WebhookController(Controller):
    path = "/api/v1/webhooks"
    tags = ("webhooks",)
    guards = [authenticate, allow("admin", "agency-admin")]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/", summary="The agency's webhook endpoints; secrets are never shown")
    async def list_webhooks(
        self,
        conn: Conn,
        principal: Caller,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        agency: Annotated[str | None, QueryParameter(max_length=32, description="Admins: only this agency's.")] = None,
    ) -> Page[WebhookOut]:
        return await service.list_endpoints(conn, principal, agency, cursor, limit)

    @post("/", summary="Register an endpoint; its secret is in this response only", status_code=HTTP_201_CREATED)
    async def create_webhook(
        self, conn: Conn, principal: Caller, services: Injected, data: JSONBody[WebhookIn]
    ) -> IssuedWebhook:
        return await service.create(conn, principal, data, development=services.settings.env == "development")

    @get("/{webhook_id:uuid}", summary="One endpoint")
    async def get_webhook(self, conn: Conn, principal: Caller, webhook_id: FromPath[uuid.UUID]) -> WebhookOut:
        return await service.get(conn, principal, webhook_id)

    @patch("/{webhook_id:uuid}", summary="Change an endpoint's URL, event types, activity or description")
    async def update_webhook(
        self,
        conn: Conn,
        principal: Caller,
        services: Injected,
        webhook_id: FromPath[uuid.UUID],
        data: JSONBody[WebhookPatch],
    ) -> WebhookOut:
        return await service.update(
            conn, principal, webhook_id, data, development=services.settings.env == "development"
        )

    @delete("/{webhook_id:uuid}", summary="Delete an endpoint and its deliveries", status_code=HTTP_204_NO_CONTENT)
    async def delete_webhook(self, conn: Conn, principal: Caller, webhook_id: FromPath[uuid.UUID]) -> None:
        await service.delete(conn, principal, webhook_id)

    @post(
        "/{webhook_id:uuid}/rotate-secret",
        summary="A new secret (shown once); the previous one keeps signing beside it for overlap_seconds",
        status_code=HTTP_201_CREATED,
    )
    async def rotate_secret(
        self,
        conn: Conn,
        principal: Caller,
        services: Injected,
        webhook_id: FromPath[uuid.UUID],
        data: JSONBody[RotateIn],
    ) -> IssuedWebhook:
        return await service.rotate(conn, principal, webhook_id, data, services.clock())

    @get("/{webhook_id:uuid}/deliveries", summary="The endpoint's deliveries, newest event first")
    async def list_deliveries(
        self,
        conn: Conn,
        principal: Caller,
        webhook_id: FromPath[uuid.UUID],
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        delivery_state: Annotated[
            DeliveryState | None, QueryParameter(name="state", description="Only deliveries in this state.")
        ] = None,
    ) -> Page[DeliveryOut]:
        return await service.list_deliveries(conn, principal, webhook_id, delivery_state, cursor, limit)

    @get("/{webhook_id:uuid}/deliveries/{delivery_id:uuid}", summary="One delivery with its attempts")
    async def get_delivery(
        self, conn: Conn, principal: Caller, webhook_id: FromPath[uuid.UUID], delivery_id: FromPath[uuid.UUID]
    ) -> DeliveryOut:
        return await service.delivery(conn, principal, webhook_id, delivery_id)

    @post(
        "/{webhook_id:uuid}/deliveries/{delivery_id:uuid}/retry",
        summary="Send a delivery again now, with a fresh count of attempts",
        status_code=HTTP_202_ACCEPTED,
    )
    async def retry_delivery(
        self,
        conn: Conn,
        principal: Caller,
        services: Injected,
        webhook_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> DeliveryOut:
        return await service.retry(conn, principal, webhook_id, delivery_id, services.clock())
