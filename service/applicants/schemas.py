"""Wire types for card sign-in and the applicant's own list of applications."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

#: A detached CMS from a card is a few KiB (the certificate and the CA's, RSA-2048 signatures).
CMS = Annotated[bytes, msgspec.Meta(max_length=32_768, description="A detached CMS (DER), base64.")]


class ChallengeOut(msgspec.Struct, frozen=True, kw_only=True):
    challenge: str
    document: str
    """The exact text to sign (its UTF-8 bytes), with the card's authentication key."""
    expires_at: dt.datetime


class SessionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    challenge: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{32,128}$")]
    signature: CMS
    """The challenge document signed with the card's authentication key (利用者証明用)."""
    link_signature: CMS | None = None
    """The same document signed with the same card's signing key (署名用): needed once per card, to
    learn whose card it is (an authentication certificate names nobody)."""


class SessionOut(msgspec.Struct, frozen=True, kw_only=True):
    session_token: str
    """Shown once (stored hashed): the bearer token of ``/api/v1/applicant/...``."""
    expires_at: dt.datetime
    linked: bool
    """This sign-in linked the card to its holder (a ``link_signature`` was sent and verified)."""


class ApplicantSubmission(msgspec.Struct, frozen=True, kw_only=True):
    submission_id: uuid.UUID
    agency: str
    procedure: str
    form_id: str
    status: str
    receipt_number: str
    """The latest revision's."""
    created_at: dt.datetime
    updated_at: dt.datetime
    filed_by: str | None = None
    """Filed on someone's behalf: the agent who signed it (null for one's own filing)..."""
    filed_by_profession: str | None = None
    """...as a licensed professional (``sharoushi``...), if they filed as one..."""
    on_behalf_of: str | None = None
    """...for this principal."""
