"""Card sign-in: only a user-authentication certificate authenticates, and it never signs."""

from __future__ import annotations

from functools import cache

import msgspec

from signing.authentication import verify_authentication
from signing.trust import fingerprint
from signing.verify import Bounds, Policy, Verifier
from tests import pki

CHALLENGE = msgspec.json.encode({"challenge": "c" * 43, "purpose": "shinsei-applicant-sign-in"})
BOUNDS = Bounds(validation_time=pki.NOW, signed_after=pki.NONCE_ISSUED)


@cache
def signed(label: str, document: bytes = CHALLENGE) -> bytes:
    return pki.sign_pyhanko(label, document)


def test_the_authentication_certificate_signs_in() -> None:
    report = verify_authentication(pki.store(), CHALLENGE, signed("auth-applicant"), BOUNDS)
    assert (report.indication, report.sub_indication, report.passed) == ("TOTAL_PASSED", None, True)
    assert report.signer is not None
    assert report.signer.sha256 == fingerprint(pki.cert("auth-applicant"))
    assert [c.name for c in report.checks if c.passed] == [
        "format", "signing_certificate", "digest", "algorithms", "signature", "chain", "key_usage", "policy",
        "time_and_revocation",
    ]  # fmt: skip


def test_a_signing_certificate_does_not_sign_in() -> None:
    report = verify_authentication(pki.store(), CHALLENGE, signed("applicant"), BOUNDS)
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE")
    [policy] = [c for c in report.checks if c.name == "policy"]
    assert policy.detail == (
        "policy 1.2.392.200149.8.5.1.3.30 is required: this is not a user-authentication certificate"
    )


def test_the_authentication_certificate_still_cannot_sign() -> None:
    report = Verifier(pki.store()).verify(
        CHALLENGE, signed("auth-applicant"), Policy(classes=frozenset({"jpki"})), BOUNDS
    )
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE")


def test_refusals() -> None:
    other = msgspec.json.encode({"challenge": "d" * 43, "purpose": "shinsei-applicant-sign-in"})
    assert verify_authentication(pki.store(), other, signed("auth-applicant"), BOUNDS).sub_indication == "HASH_FAILURE"
    corporate = verify_authentication(pki.store(), CHALLENGE, signed("corporate-rep"), BOUNDS)
    assert corporate.sub_indication == "CHAIN_CONSTRAINTS_FAILURE"
    assert "sign-in needs a JPKI card" in next(c.detail for c in corporate.checks if c.name == "chain")
    forged = verify_authentication(pki.store(), CHALLENGE, signed("forged-applicant"), BOUNDS)
    assert forged.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
    # No revocation data: a sign-in cannot be accepted on trust.
    unknown = verify_authentication(pki.store(crl_time=None), CHALLENGE, signed("auth-applicant"), BOUNDS)
    assert (unknown.indication, unknown.sub_indication, unknown.passed) == ("INDETERMINATE", "TRY_LATER", False)
    garbage = verify_authentication(pki.store(), CHALLENGE, b"\x30\x03\x02\x01\x01", BOUNDS)
    assert garbage.sub_indication == "FORMAT_FAILURE"
