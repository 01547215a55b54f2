"""Sign-in with the My Number card's user-authentication certificate (利用者証明用電子証明書).

An authentication is not a signature, and the two never stand in for each other: ``verify`` refuses
a certificate with the authentication policy for *signing*, and this module accepts *only* that
policy. The same structural and cryptographic checks and the same time and revocation rules apply
(``verify.parse``, ``check_cryptography``, ``judge``): the challenge the server issued is the lower
bound, a revoked card (reported lost) fails, and revocation data that is not current is a refusal
(a sign-in cannot wait for the next CRL). The verdict is the usual report, with EN 319 102-1's
indications.

J-LIS issues the authentication certificate without the holder's four basic items, so it names
nobody; who the card belongs to is learnt once from a signing certificate of the same card (the
service links the two).
"""

from __future__ import annotations

from asn1crypto import x509

from signing import jpki
from signing.report import Check, SubIndication, VerificationReport
from signing.trust import TrustStore
from signing.verify import (
    Assessment,
    Bounds,
    Rejected,
    check_cryptography,
    judge,
    parse,
    report_for,
    standing,
    summarise,
)


def assess_authentication(
    store: TrustStore, cert: x509.Certificate, extra: list[x509.Certificate], accept_test: bool = False
) -> Assessment:
    """Chain to a JPKI anchor, digitalSignature, the authentication policy, and revocation data."""
    checks: list[Check] = []
    chains = store.chains(cert, extra)
    usable = [c for c in chains if c.anchor.certificate_class == "jpki" and (not c.anchor.test or accept_test)]
    chain = usable[0] if usable else (chains[0] if chains else None)
    problem: tuple[SubIndication, str] | None = None
    if not chains:
        problem = ("NO_CERTIFICATE_CHAIN_FOUND", "no path to a trust anchor")
    elif not usable:
        kind = "a test anchor" if chains[0].anchor.test else f"a {chains[0].anchor.certificate_class} anchor"
        problem = ("CHAIN_CONSTRAINTS_FAILURE", f"the chain ends in {kind}; sign-in needs a JPKI card")
    checks.append(Check(name="chain", passed=bool(usable), detail=problem[1] if problem else "to a JPKI anchor"))
    if problem is None:
        usage = cert.key_usage_value.native if cert.key_usage_value is not None else set()
        if "digital_signature" not in usage:
            problem = ("CHAIN_CONSTRAINTS_FAILURE", "keyUsage lacks digitalSignature")
        checks.append(
            Check(name="key_usage", passed=problem is None, detail=problem[1] if problem else "digitalSignature")
        )
    if problem is None:
        if jpki.AUTHENTICATION_POLICY not in jpki.policies(cert):
            problem = (
                "CHAIN_CONSTRAINTS_FAILURE",
                f"policy {jpki.AUTHENTICATION_POLICY} is required: this is not a user-authentication certificate",
            )
        checks.append(
            Check(
                name="policy",
                passed=problem is None,
                detail=problem[1] if problem else "user authentication (利用者証明用)",
            )
        )
    valid_from, valid_to, source, revoked = standing(store, cert, chain)
    return Assessment(
        signer=summarise(cert, chain),
        holder=jpki.holder(cert),
        chain=chain,
        problem=problem,
        checks=checks,
        valid_from=valid_from,
        valid_to=valid_to,
        source=source,
        revoked=revoked,
        expires=valid_to,
    )


def verify_authentication(
    store: TrustStore, challenge: bytes, signature: bytes, bounds: Bounds, *, accept_test: bool = False
) -> VerificationReport:
    """Judge a detached CMS over the challenge bytes as a sign-in; ``report.passed`` is the answer."""
    checks: list[Check] = []
    parsed = None
    try:
        parsed = parse(signature, checks)
        check_cryptography(challenge, parsed, checks)
        assessment = assess_authentication(store, parsed.signer, parsed.certificates, accept_test)
    except Rejected as rejected:
        return report_for(rejected.sub_indication, rejected.checks, bounds, parsed)
    except (ValueError, TypeError, KeyError) as exc:
        checks.append(Check(name="format", passed=False, detail=f"malformed CMS: {exc}"))
        return report_for("FORMAT_FAILURE", checks, bounds)
    verdict = judge(assessment, bounds)
    checks += assessment.checks
    sub = verdict.sub_indication
    checks.append(Check(name="time_and_revocation", passed=sub is None, detail=verdict.detail))
    return report_for(sub, checks, bounds, parsed, assessment, confirmed=verdict.confirmed)
