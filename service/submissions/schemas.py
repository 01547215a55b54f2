"""Wire types for nonces and submissions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import msgspec

from service.proxy.schemas import FiledOnBehalf

Status = Literal[
    "received", "under_review", "correction_requested", "approved", "rejected", "withdrawn", "signature_invalid"
]
VerificationStatus = Literal["passed", "pending", "failed"]


class NonceOut(msgspec.Struct, frozen=True, kw_only=True):
    nonce: str
    issued_at: dt.datetime
    expires_at: dt.datetime


class SignerSummary(msgspec.Struct, frozen=True, kw_only=True):
    indication: str
    sub_indication: str | None
    certificate_class: str | None
    name: str | None
    """The holder's name (JPKI) or the certificate subject: shown to the applicant and the clerk only."""


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    status: VerificationStatus
    indication: str
    sub_indication: str | None
    signers: list[SignerSummary]
    confirmed: bool = False
    """Every signature's revocation data was issued after it was made (EN 319 102-1's default accepts
    data current at the check; this is the stronger statement that re-verification adds later)."""
    test: bool = False
    """A signature was made with a test certificate (development only)."""


class Links(msgspec.Struct, frozen=True, kw_only=True):
    self: str
    receipt: str
    receipt_signature: str
    receipt_pdf: str
    bundle: str
    """The evidence bundle (ZIP): everything needed to check the application offline."""
    decision_notice: str | None = None
    """The signed decision notice (JSON; ``.p7s`` and ``.pdf`` beside it), once decided."""

    @classmethod
    def of(cls, submission_id: uuid.UUID, *, decided: bool = False) -> Links:
        base = f"/api/v1/submissions/{submission_id}"
        return cls(
            self=base,
            receipt=f"{base}/receipt.json",
            receipt_signature=f"{base}/receipt.p7s",
            receipt_pdf=f"{base}/receipt.pdf",
            bundle=f"{base}/bundle",
            decision_notice=f"{base}/decision-notice.json" if decided else None,
        )


class SubmissionCreated(msgspec.Struct, frozen=True, kw_only=True):
    submission_id: uuid.UUID
    revision: int
    receipt_number: str
    status: Status
    received_at: dt.datetime
    verification: Verification
    flags: list[str]
    access_token: str
    """Shown once: the applicant's key to this submission (stored hashed)."""
    links: Links


class TimelineEvent(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    at: dt.datetime
    revision: int | None = None
    message: str | None = None
    fields: list[str] | None = None


class RevisionOut(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    receipt_number: str
    received_at: dt.datetime
    document_sha256: str
    verification: Verification
    flags: list[str]


class SubmissionOut(msgspec.Struct, frozen=True, kw_only=True):
    submission_id: uuid.UUID
    agency: str
    procedure: str
    form_id: str
    status: Status
    revisions: list[RevisionOut]
    timeline: list[TimelineEvent]
    links: Links
    proxy: FiledOnBehalf | None = None
    """Filed on someone's behalf: by whom, for whom (null for an applicant's own filing)."""


class WithdrawalDocument(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What the applicant signs to withdraw (取下げ)."""

    action: Literal["withdraw"]
    submission_id: uuid.UUID
    nonce: str
    reason: str = ""
