"""Wire types for trust administration."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

PEM = Annotated[str, msgspec.Meta(min_length=1, max_length=200_000)]
#: ``sharoushi`` and the other professions: their associations' CAs, for filing on clients' behalf (提出代行).
CertificateClass = Literal["jpki", "corporate", "accredited", "sharoushi", "gyouseishoshi", "zeirishi", "shihoshoshi"]


class AnchorIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    certificate_class: CertificateClass = msgspec.field(name="class")
    certificate: PEM
    test: bool = False
    crl_url: Annotated[str, msgspec.Meta(pattern=r"^https?://", max_length=2000)] | None = None
    ocsp_url: Annotated[str, msgspec.Meta(pattern=r"^https?://", max_length=2000)] | None = None


class AnchorOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    certificate_class: CertificateClass = msgspec.field(name="class")
    test: bool
    subject: str
    sha256: str
    key_id: str
    not_after: dt.datetime
    crl_url: str | None
    ocsp_url: str | None
    created_at: dt.datetime


class CertificateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    certificate: PEM


class CertificateOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    subject: str
    sha256: str
    created_at: dt.datetime


class CRLIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    crl: PEM


class CRLOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    issuer_key_id: str
    sha256: str
    crl_number: int | None
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked_count: int
    created_at: dt.datetime


class OCSPQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Ask the responder of the certificate's anchor about it now."""

    certificate: PEM


class OCSPOut(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["good", "revoked", "unknown"]
    serial: str
    """Hexadecimal."""
    issuer_key_id: str
    produced_at: dt.datetime
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked_at: dt.datetime | None
