"""Wire types of clerk review: the clerk's view, decisions, comments, assignment."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from forms.answers import Answer, AnswerChange
from service.proxy.schemas import ProxyFilingOut
from service.submissions.schemas import Links, Status, TimelineEvent, Verification
from service.submissions.workflow import Action
from signing.report import VerificationReport

Pointer = Annotated[str, msgspec.Meta(pattern=r"^(/[^/]*)*$", max_length=500)]


class DecisionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    decision: Literal["approve", "reject", "request_correction"]
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    """Shown to the applicant (in the signed notice for approve and reject)."""
    fields: Annotated[list[Pointer], msgspec.Meta(max_length=200)] | None = None
    """For a correction request: the answers to correct, as JSON pointers into the document."""


class CommentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class AssignIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    clerk: uuid.UUID
    """The clerk's token id (from the token list)."""


class CommentOut(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    author: uuid.UUID
    role: str
    body: str
    at: dt.datetime


class AuditOut(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    details: dict[str, Any]


class SignatureOut(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    sha256: str
    report: VerificationReport
    """The full report: checks, signer certificate, decoded JPKI identity, revocation source."""


class AttachmentOut(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    filename: str
    media_type: str
    size: int
    sha256: str
    report: Any
    """For a PDF: its own signatures, each judged; otherwise null."""
    download: str


class ClerkRevision(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    receipt_number: str
    received_at: dt.datetime
    form_version: int
    document_sha256: str
    verification: Verification
    flags: list[str]
    signatures: list[SignatureOut]
    attachments: list[AttachmentOut]
    changes: list[AnswerChange] | None
    """Against the previous revision (None for the first)."""


class ClerkSubmissionOut(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a clerk needs to decide, in one response (its ETag is the latest revision's)."""

    submission_id: uuid.UUID
    agency: str
    procedure: str
    procedure_name: str
    form_id: str
    form_title: str
    status: Status
    allowed_actions: list[Action]
    assignee: uuid.UUID | None
    received_at: dt.datetime
    first_opened_at: dt.datetime | None
    etag: str
    flags: list[str]
    answers: list[Answer]
    """The latest revision's answers, labelled by the form version they were signed against."""
    revisions: list[ClerkRevision]
    timeline: list[TimelineEvent]
    comments: list[CommentOut]
    audit: list[AuditOut]
    links: Links
    proxy: ProxyFilingOut | None = None
    """Filed on someone's behalf: by whom, for whom, and the mandate (None: the applicant filed)."""


class DecisionOut(msgspec.Struct, frozen=True, kw_only=True):
    submission_id: uuid.UUID
    status: Status
    decision: Literal["approve", "reject", "request_correction"]
    notice_number: str | None
    links: Links


class AssignmentOut(msgspec.Struct, frozen=True, kw_only=True):
    submission_id: uuid.UUID
    status: Status
    assignee: uuid.UUID | None
