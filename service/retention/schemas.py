"""Wire types of retention: the rule in the catalogue, legal holds, tombstones, what a run purged."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

#: When the period starts: at the decision (approval, rejection, or withdrawal: the end of the file)
#: or at receipt. Either way it counts from the following 1 April (起算日).
Start = Literal["decided", "received"]
Source = Literal["procedure", "agency"]


class RetentionRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``retention: {years, from}`` of a procedure or an agency (保存期間 and its 起算点)."""

    years: Annotated[int, msgspec.Meta(ge=1, le=100)]
    start: Start = msgspec.field(default="decided", name="from")


#: An agency that states no rule keeps applications five years from the decision (see migration 0018).
AGENCY_DEFAULT: RetentionRule = RetentionRule(years=5, start="decided")


class Retention(msgspec.Struct, frozen=True, kw_only=True):
    """The rule that applies to an application, and where it came from."""

    years: int
    start: Start = msgspec.field(name="from")
    source: Source
    """``procedure``: the catalogue entry's own rule; ``agency``: its agency's."""


class HoldIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    """Why the application must be kept (a case number, an inquiry): seen by the agency's staff only."""


class HoldOut(msgspec.Struct, frozen=True, kw_only=True):
    submission_id: uuid.UUID
    reason: str
    placed_by: uuid.UUID
    placed_at: dt.datetime
    released_by: uuid.UUID | None = None
    released_at: dt.datetime | None = None


class PurgedObject(msgspec.Struct, frozen=True, kw_only=True):
    """One thing that was deleted, named by its place and kept as its SHA-256."""

    kind: str
    """``document``, ``signature``, ``timestamp_token``, ``attachment``, ``receipt_json``, ``receipt_cms``,
    ``receipt_pdf``, ``notice_json``, ``notice_cms``, ``notice_pdf``, ``mandate``, ``mandate_signature``,
    ``comment``."""
    revision: int | None
    name: str | None
    """The attachment's field, the signature's position, the comment's id."""
    sha256: str
    size: int


class Tombstone(msgspec.Struct, frozen=True, kw_only=True):
    """What remains of a purged application: enough to match an old receipt, nothing personal."""

    submission_id: uuid.UUID
    agency: str
    procedure: str
    status: str
    receipt_numbers: list[str]
    received_at: dt.datetime
    closed_at: dt.datetime
    retention: Retention
    retain_until: dt.datetime
    purged_at: dt.datetime
    objects: list[PurgedObject]


class TombstoneOut(msgspec.Struct, frozen=True, kw_only=True):
    tombstone: Tombstone
    sha256: str
    """SHA-256 of the canonical tombstone; the purge's audit event carries the same value."""


class RetentionOut(msgspec.Struct, frozen=True, kw_only=True):
    """Where an application stands: its rule, when it may be purged, a hold, or its tombstone."""

    submission_id: uuid.UUID
    status: str
    retention: Retention
    retain_until: dt.datetime | None
    """None while the application is open: the period starts when it is decided or withdrawn."""
    on_hold: bool
    hold: HoldOut | None = None
    """The active hold with its reason: shown to the agency's staff, never to the applicant."""
    purged: TombstoneOut | None = None


class DueOut(msgspec.Struct, frozen=True, kw_only=True):
    """One application a run purges (or, dry, would purge)."""

    submission_id: uuid.UUID
    agency: str
    receipt_numbers: list[str]
    status: str
    retain_until: dt.datetime
    objects: int
    bytes: int


class RunReport(msgspec.Struct, frozen=True, kw_only=True):
    dry_run: bool
    at: dt.datetime
    purged: list[DueOut]
    held: int
    """Applications past their retention that a legal hold keeps."""
    more: bool = False
    """The run stopped at its bound; the next run continues."""
