"""Receipts (受付票) and decision notices: what the agency states, signed by it, checkable by anyone offline.

A statement is canonical JSON (``signing.canonical``) with a detached CMS by the agency's receipt key,
optionally time-stamped (RFC 3161). Its one-page PDF is ``signing.receipt_pdf``; the key that signs
both is loaded by ``signing.receipt_keys`` (or made for development by ``signing.devca``).
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

import msgspec
from asn1crypto import x509
from pyhanko.sign import signers
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError

from signing import canonical
from signing.client import KeptKeySigner, asign_detached
from signing.jpki import Profession
from signing.report import VerificationReport
from signing.timestamps import TimestampUnavailable
from signing.trust import Anchor, TrustStore
from signing.verify import Bounds, Policy, Verifier

RECEIPT_POLICY: Final = Policy(classes=frozenset({"accredited"}), check_revocation=False)


class AttachmentDigest(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    filename: str
    sha256: str


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    receipt_number: str
    submission_id: str
    agency: str
    form_id: str
    form_version: int
    document_sha256: str
    attachments: list[AttachmentDigest]
    signatures_sha256: list[str]
    """SHA-256 of each applicant CMS, in the order received."""
    received_at: dt.datetime
    verification: str
    """The verification indication at receipt (TOTAL_PASSED, or INDETERMINATE while pending)."""
    test: bool = False
    """Signed with a test certificate (試験用): never evidence of a real application."""
    filed_by: str | msgspec.UnsetType = msgspec.UNSET
    """Filed on someone's behalf: the agent who signed the application (left out otherwise, so an
    applicant's own receipt is unchanged)."""
    on_behalf_of: str | msgspec.UnsetType = msgspec.UNSET
    """...and the principal (the mandate's signer, or the client a professional's statement names)."""
    filed_by_profession: Profession | msgspec.UnsetType = msgspec.UNSET
    """The agent's licensed profession (``sharoushi``…), when they file as one: with a statement
    (提出代行), or under a mandate signed with their association's certificate."""


class DecisionNotice(msgspec.Struct, frozen=True, kw_only=True):
    """The agency's decision on an application (許可・不許可の通知), signed like a receipt."""

    kind: Literal["decision_notice"] = "decision_notice"
    notice_number: str
    submission_id: str
    agency: str
    form_id: str
    form_version: int
    revision: int
    receipt_number: str
    """The receipt of the revision decided on."""
    document_sha256: str
    decision: Literal["approved", "rejected"]
    message: str
    decided_at: dt.datetime


Statement = Receipt | DecisionNotice


def receipt_bytes(receipt: Statement) -> bytes:
    return canonical.encode(receipt)


async def sign_receipt(
    receipt: Statement, signer: signers.Signer, timestamper: TimeStamper | None = None
) -> tuple[bytes, bytes]:
    """(canonical JSON, detached CMS over it), for a receipt or a decision notice alike."""
    data = receipt_bytes(receipt)
    if timestamper is None and isinstance(signer, KeptKeySigner):
        return data, signer.detached_cms(data)
    if timestamper is None:
        return data, await asign_detached(data, signer)
    try:
        # pyHanko adds the RFC 3161 token over the signature as CAdES' signature-time-stamp attribute.
        content = await signer.async_sign_general_data(data, "sha256", detached=True, timestamper=timestamper)
    except (TimestampRequestError, OSError) as exc:
        raise TimestampUnavailable(str(exc) or type(exc).__name__) from None
    return data, bytes(content.dump())


def verify_receipt(
    data: bytes, signature: bytes, agency_roots: list[x509.Certificate], at: dt.datetime | None = None
) -> VerificationReport:
    """Check a receipt offline against the agency's root: integrity, signature, chain, validity.

    Revocation is not required: an agency publishes no CRL for its receipt key in this design
    (the root is pinned by whoever checks), so requiring one would make every receipt TRY_LATER.
    """
    store = TrustStore([Anchor(certificate=root, certificate_class="accredited") for root in agency_roots])
    return Verifier(store).verify(
        data, signature, RECEIPT_POLICY, Bounds(validation_time=at or dt.datetime.now(dt.UTC))
    )
