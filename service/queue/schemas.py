"""Wire types for the queue."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import msgspec

Assigned = Literal["me", "none", "any"]
Flag = Literal["identity_mismatch", "verification_pending", "revocation_unconfirmed", "test_signature"]


class QueueRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    receipt_number: str
    form_id: str
    form_title: str
    procedure: str
    procedure_name: str
    status: str
    received_at: dt.datetime
    assignee: uuid.UUID | None
    signer: str | None
    verification: str
    flags: list[str]
    unread: bool
    """No clerk has opened it yet."""


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    receipt_number: str
    status: str
