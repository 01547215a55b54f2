"""Wire types for drafts (an applicant's saved answers, not a form's draft version)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec

from service.validation import FieldProblem

FormId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)]
Pointer = Annotated[str, msgspec.Meta(max_length=1000)]


class DraftIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    form_id: FormId
    answers: dict[str, Any] = msgspec.field(default_factory=dict)
    """Partial answers are fine; the whole body is bounded by ``SHINSEI_MAX_DOCUMENT_BYTES``."""


class DraftAttachmentOut(msgspec.Struct, frozen=True, kw_only=True):
    """An uploaded file: ``filename``, ``media_type``, ``size`` and ``sha256`` are the answer to put in a field."""

    filename: str
    media_type: str
    size: int
    sha256: str
    href: str


class DraftOut(msgspec.Struct, frozen=True, kw_only=True):
    draft_id: uuid.UUID
    form_id: str
    form_version: int
    answers: dict[str, Any]
    errors: list[FieldProblem]
    """Problems with what is answered (each with its pointer into the document)."""
    todo: list[str]
    """Pointers of what is still missing: required answers, and declared files not uploaded yet."""
    complete: bool
    """No errors and nothing to do: ``finalize`` will give the document to sign."""
    attachments: list[DraftAttachmentOut]
    newer_version: int | None
    """The form's newest published version when it is newer than the draft's (``upgrade`` moves to it)."""
    created_at: dt.datetime
    updated_at: dt.datetime
    expires_at: dt.datetime


class DraftCreated(msgspec.Struct, frozen=True, kw_only=True):
    draft_id: uuid.UUID
    draft_token: str
    """Shown once: the key to this draft (stored hashed). Send it as a bearer token."""
    expires_at: dt.datetime
    draft: DraftOut


class UpgradeReport(msgspec.Struct, frozen=True, kw_only=True):
    from_version: int
    to_version: int
    dropped: list[str]
    """Answers the new version has no field for (pointers in the old answers), left out."""
    invalid: list[FieldProblem]
    """Answers moved across that the new version does not accept as they are."""


class UpgradeOut(msgspec.Struct, frozen=True, kw_only=True):
    upgrade: UpgradeReport
    draft: DraftOut
