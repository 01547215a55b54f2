"""The verification report: an ETSI EN 319 102-1 verdict and everything that led to it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from signing.jpki import CertificateClass, Holder

Indication = Literal["TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"]
SubIndication = Literal[
    # TOTAL_FAILED
    "HASH_FAILURE",
    "SIG_CRYPTO_FAILURE",
    "REVOKED",
    "NOT_YET_VALID",
    "EXPIRED",
    "FORMAT_FAILURE",
    # INDETERMINATE
    "NO_CERTIFICATE_CHAIN_FOUND",
    "CHAIN_CONSTRAINTS_FAILURE",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
    "OUT_OF_BOUNDS_NO_POE",
    "REVOKED_NO_POE",
    "TRY_LATER",
    "SIGNED_DATA_NOT_FOUND",
    "NO_SIGNING_CERTIFICATE_FOUND",
]
FAILED_SUBINDICATIONS = frozenset(
    {"HASH_FAILURE", "SIG_CRYPTO_FAILURE", "REVOKED", "NOT_YET_VALID", "EXPIRED", "FORMAT_FAILURE"}
)


class Check(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    passed: bool
    detail: str


class SignerCertificate(msgspec.Struct, frozen=True, kw_only=True):
    issuer: str
    serial: str
    """Hexadecimal."""
    sha256: str
    certificate_class: CertificateClass | None
    ca_generation: str | None
    """The trust anchor the chain ends in, by its key identifier (CA generations share a DN)."""
    test: bool = False
    """The chain ends in a test anchor: a test card, never evidence of a real person."""
    not_before: dt.datetime
    not_after: dt.datetime
    subject: str
    """Corporate and accredited signers are named here; a JPKI subject is a serial, the name is in ``holder``."""


class RevocationSource(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["crl", "ocsp"]
    issuer_key_id: str
    crl_number: int | None
    """For a CRL."""
    produced_at: dt.datetime | None
    """For an OCSP response."""
    this_update: dt.datetime
    next_update: dt.datetime | None
    confirmed: bool = False
    """Issued after the signature was made: no earlier revocation can be missing from it. Otherwise the
    data was current when checked (EN 319 102-1's default) and a later CRL or OCSP answer confirms it."""


class VerificationReport(msgspec.Struct, frozen=True, kw_only=True):
    indication: Indication
    sub_indication: SubIndication | None
    checks: list[Check]
    signer: SignerCertificate | None
    holder: Holder | None
    claimed_signing_time: dt.datetime | None
    revocation: RevocationSource | None
    revoked_at: dt.datetime | None
    validation_time: dt.datetime
    signed_after: dt.datetime | None

    @property
    def passed(self) -> bool:
        return self.indication == "TOTAL_PASSED"

    @property
    def confirmed(self) -> bool:
        """Passed, and backed by revocation data issued after the signature (or none was needed)."""
        return self.passed and (self.revocation is None or self.revocation.confirmed)

    @property
    def test(self) -> bool:
        """Signed with a test certificate (a J-LIS test card or ``shinsei dev card``)."""
        return self.signer is not None and self.signer.test

    @property
    def retryable(self) -> bool:
        """INDETERMINATE that fresher revocation data may settle."""
        return self.sub_indication == "TRY_LATER"


def exit_status(report: VerificationReport) -> int:
    """``shinsei verify``: 0 passed, 1 failed, 3 indeterminate (2 is a usage error)."""
    return {"TOTAL_PASSED": 0, "TOTAL_FAILED": 1, "INDETERMINATE": 3}[report.indication]
