"""Wire types of webhook endpoints and their deliveries."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from service.auth.schemas import AgencyCode
from service.events.schemas import EventType

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
EventTypes = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=20)]
Description = Annotated[str, msgspec.Meta(max_length=500)]
DeliveryState = Literal["pending", "delivered", "dead"]


class WebhookIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: Url
    event_types: EventTypes
    active: bool = True
    description: Description = ""
    agency: AgencyCode | None = None
    """A platform admin names the agency; an agency admin's endpoint is its own agency's."""


class WebhookPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: Url | msgspec.UnsetType = msgspec.UNSET
    event_types: EventTypes | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET


class RotateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    overlap_seconds: Annotated[int, msgspec.Meta(ge=0, le=7 * 86_400)] = 86_400
    """How long the previous secret keeps signing beside the new one (both signatures are sent)."""


class WebhookOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    agency: str
    url: str
    event_types: list[str]
    active: bool
    description: str
    previous_secret_expires_at: dt.datetime | None
    """While set and in the future, deliveries are signed with the previous secret too."""
    created_at: dt.datetime
    updated_at: dt.datetime


class IssuedWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """The one response that carries the signing secret (``whsec_`` + base64, Standard Webhooks)."""

    secret: str
    webhook: WebhookOut


class AttemptOut(msgspec.Struct, frozen=True, kw_only=True):
    at: dt.datetime
    status: int | None
    """The receiver's HTTP status; None when no answer came (the error says why)."""
    error: str | None
    duration_ms: int


class DeliveryOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    event_id: uuid.UUID
    """The event's id: the ``webhook-id`` header of every attempt."""
    event_type: str
    subject: str
    state: DeliveryState
    attempts: int
    next_attempt_at: dt.datetime | None
    """When the next attempt is due (pending only)."""
    last_status: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    history: list[AttemptOut] | None = None
    """The attempts, newest first (at most 100), in the view of one delivery."""
