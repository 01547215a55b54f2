"""The public events: what the feed lists and what a webhook delivers, in one shape."""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from typing import Any, Final, Literal

import msgspec

EventType = Literal[
    "submission.received",
    "submission.amended",
    "submission.withdrawn",
    "submission.purged",
    "signature.confirmed",
    "signature.invalid",
    "decision.made",
    "correction.requested",
    "form.published",
    "form.retired",
]
#: Every type, in the order docs/webhooks.md lists them (the migration's CHECK has the same list).
EVENT_TYPES: Final[tuple[str, ...]] = typing.get_args(EventType)


class EventOut(msgspec.Struct, frozen=True, kw_only=True):
    """One event, as Standard Webhooks lays a payload out (``type``, ``timestamp``, ``data``) plus its ``id``.

    The ``id`` is also the ``webhook-id`` of every delivery of it, so a receiver that both pulls the
    feed and receives webhooks recognises an event it has already seen.
    """

    id: uuid.UUID
    type: EventType
    timestamp: dt.datetime
    data: dict[str, Any]
