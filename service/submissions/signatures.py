"""Signatures judged against a procedure's policy: which classes count, how many signers, what is pending.

Shared by intake, withdrawal and re-verification, so the three judge alike.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from pyhanko.sign.timestamps import TimeStamper

from forms.schema import FormSchema
from service.catalog.schemas import DigitalPolicy
from service.problems import (
    ServiceUnavailable,
    SignatureRejected,
)
from service.submissions.identity import identity
from service.submissions.schemas import (
    SignerSummary,
    Verification,
)
from signing.jpki import CertificateClass
from signing.report import VerificationReport
from signing.timestamps import SignatureTimestamp, TimestampUnavailable, stamp_signature
from signing.verify import Policy

ALL_CLASSES: Final[frozenset[CertificateClass]] = frozenset({"jpki", "corporate", "accredited"})
QUALIFIED_CLASSES: Final[frozenset[CertificateClass]] = frozenset({"jpki", "corporate"})


def signature_policy(
    schema: FormSchema, digital_policy: DigitalPolicy, accept_test: bool = False
) -> tuple[Policy, int]:
    """The form narrows the classes; a procedure that needs a qualified signature narrows them further."""
    accept = frozenset(schema.signature.accept) if schema.signature else ALL_CLASSES
    if digital_policy.signature == "qualified":
        accept &= QUALIFIED_CLASSES
    return Policy(classes=accept, accept_test=accept_test), (schema.signature.signers if schema.signature else 1)


def summary(report: VerificationReport) -> SignerSummary:
    name = report.holder.name if report.holder else (report.signer.subject if report.signer else None)
    return SignerSummary(
        indication=report.indication,
        sub_indication=report.sub_indication,
        certificate_class=report.signer.certificate_class if report.signer else None,
        name=name,
    )


def judge_signatures(reports: list[VerificationReport], required: int, require_confirmed: bool = False) -> Verification:
    """All must pass, or be waiting for revocation data only; and enough distinct people must sign.

    A pass whose revocation data predates the signature is a pass (EN 319 102-1's default), marked
    unconfirmed; a procedure that requires confirmation keeps it pending until data issued after the
    signature says the same.
    """
    signers = [summary(r) for r in reports]
    refused = [r for r in reports if not r.passed and not r.retryable]
    if refused:
        raise SignatureRejected(
            f"{len(refused)} of {len(reports)} signature(s) cannot be accepted: {refused[0].sub_indication}.",
            extensions={"reports": [msgspec.to_builtins(r) for r in reports]},
        )
    distinct = {msgspec.json.encode(identity(r)) for r in reports}
    if len(distinct) < required:
        raise SignatureRejected(
            f"This form needs {required} different signers; {len(distinct)} signed.",
            extensions={"reports": [msgspec.to_builtins(r) for r in reports]},
        )
    confirmed = all(r.confirmed for r in reports)
    pending = any(r.retryable for r in reports) or (require_confirmed and not confirmed)
    return Verification(
        status="pending" if pending else "passed",
        indication="INDETERMINATE" if pending else "TOTAL_PASSED",
        sub_indication="TRY_LATER" if pending else None,
        signers=signers,
        confirmed=confirmed,
        test=any(r.test for r in reports),
    )


async def timestamps(signatures: list[bytes], timestamper: TimeStamper | None) -> list[SignatureTimestamp | None]:
    """CAdES-T: a time-stamp over each applicant signature, when a TSA is configured.

    The agency chose to keep this evidence, so a TSA that does not answer makes intake answer 503
    (the applicant retries the same signed bytes) rather than accept an application without it.
    """
    if timestamper is None:
        return [None] * len(signatures)
    try:
        return [await stamp_signature(signature, timestamper) for signature in signatures]
    except TimestampUnavailable:
        raise ServiceUnavailable(
            "The time-stamping service did not answer; send the same signed application again shortly.",
            retry_after=30,
        ) from None


def confirmable(report: VerificationReport) -> bool:
    """Passed on data that predates it, or waiting for data: an OCSP answer issued now may settle it."""
    return (report.passed and not report.confirmed) or report.retryable


def open_flags(flags: list[str], verification: Verification) -> list[str]:
    """What a clerk should know of a revision: its flags, whether its signatures wait, and for what.

    ``verification_pending``: for revocation data at all (or, where the procedure requires it, for
    confirmation); ``revocation_unconfirmed``: passed on current data, confirmation to come;
    ``test_signature``: a test certificate signed it.
    """
    opened = list(flags)
    if verification.status == "pending":
        opened.append("verification_pending")
    elif verification.status == "passed" and not verification.confirmed:
        opened.append("revocation_unconfirmed")
    if verification.test:
        opened.append("test_signature")
    return opened


def same_signer(original: list[dict[str, Any]], now: list[dict[str, Any]]) -> bool:
    return any(identity in original for identity in now)
