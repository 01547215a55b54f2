"""The test oracle: pyHanko and certvalidator judge from scratch, with pyHanko's known traps corrected.

Used by the differential test (every case must get the verdict ``Verifier`` gives); it lives under
``tests/`` because nothing in the service runs it. pyHanko decides integrity, signature validity,
the chain and key usage (certvalidator) and revocation from the same CRLs; on top of its facts go
what it does not do on the CMS path: certificate policies per class, ``require`` rather than
soft-fail revocation, missing or stale revocation data as TRY_LATER rather than a generic chain
failure, and the EN 319 102-1 time bounds (notBefore after the upper bound as NOT_YET_VALID rather
than a chain failure).
"""

from __future__ import annotations

import datetime as dt

from asn1crypto import cms, x509
from pyhanko.sign.validation import async_validate_detached_cms
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import StandardCMSSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.authority import CertTrustAnchor

from signing import crypto
from signing.report import Check, SubIndication, VerificationReport
from signing.trust import Anchor, CRLInfo, OCSPInfo, TrustStore
from signing.verify import Assessment, Bounds, Policy, Rejected, freshest, judge, parse, policy_problem, report_for


async def _validate(
    document: bytes,
    signed: cms.SignedData,
    roots: list[x509.Certificate],
    store: TrustStore,
    moment: dt.datetime,
    *,
    with_crls: bool,
    key_usage: bool,
) -> StandardCMSSignatureStatus:
    context = ValidationContext(
        trust_roots=roots,
        other_certs=store.certificates,
        crls=list(store.crl_lists.values()) if with_crls else [],
        ocsps=list(store.ocsp_responses.values()) if with_crls else [],
        moment=moment,
        revocation_mode="require" if with_crls else "soft-fail",
        allow_fetching=False,
    )
    return await async_validate_detached_cms(
        document,
        signed,
        signer_validation_context=context,
        key_usage_settings=KeyUsageConstraints(key_usage={"non_repudiation"} if key_usage else set()),
    )


def _anchor_of(status: StandardCMSSignatureStatus, store: TrustStore) -> Anchor | None:
    path = status.validation_path
    if path is None:
        return None
    anchor = path.trust_anchor
    return store.anchor_for(anchor.certificate) if isinstance(anchor, CertTrustAnchor) else None


async def reference_verify(
    store: TrustStore, document: bytes, signature: bytes, policy: Policy, bounds: Bounds
) -> VerificationReport:
    checks: list[Check] = []
    try:
        parsed = parse(signature, checks)  # structure only: the same checks in both paths
        crypto.digest(parsed.signer_info["digest_algorithm"]["algorithm"].native, b"")
        crypto.public_key(parsed.signer.public_key)
    except Rejected as rejected:
        return report_for(rejected.sub_indication, rejected.checks, bounds)
    except crypto.WeakAlgorithm as exc:
        return report_for(
            "CRYPTO_CONSTRAINTS_FAILURE_NO_POE", [Check(name="algorithms", passed=False, detail=str(exc))], bounds
        )
    signed = cms.ContentInfo.load(signature)["content"]
    signer = parsed.signer
    validity = signer["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    # Chain and key usage, judged inside the certificate's validity: time is classified below.
    inside = not_before + (not_after - not_before) / 2
    accepted = [
        a.certificate
        for a in store.anchors
        if a.certificate_class in policy.classes and (not a.test or policy.accept_test)
    ]
    status = await _validate(document, signed, accepted, store, inside, with_crls=False, key_usage=True)
    if not status.intact:
        return report_for("HASH_FAILURE", [Check(name="digest", passed=False, detail="pyHanko: not intact")], bounds)
    if not status.valid:
        return report_for(
            "SIG_CRYPTO_FAILURE", [Check(name="signature", passed=False, detail="pyHanko: not valid")], bounds
        )
    problem: tuple[SubIndication, str] | None = None
    anchor = _anchor_of(status, store)
    if status.trust_problem_indic is not None or anchor is None:
        every = [a.certificate for a in store.anchors]
        loose = await _validate(document, signed, every, store, inside, with_crls=False, key_usage=False)
        if loose.trust_problem_indic is None:
            problem = ("CHAIN_CONSTRAINTS_FAILURE", "pyHanko: chain or key usage outside the policy")
        else:
            problem = ("NO_CERTIFICATE_CHAIN_FOUND", "pyHanko: no chain")
    elif (reason := policy_problem(signer, anchor)) is not None:
        problem = ("CHAIN_CONSTRAINTS_FAILURE", reason)
    source: CRLInfo | OCSPInfo | None = None
    revoked = None
    if problem is None and anchor is not None:
        issuer = _issuer(status)
        source = freshest(store.crl_for(issuer), store.ocsp_for(issuer, signer.serial_number))
        # Revocation is judged when the CRLs speak: at the validation time, if the certificate is
        # valid then (if it is not, the time rules decide before revocation can matter).
        current = bounds.validation_time if not_before <= bounds.validation_time <= not_after else inside
        revocation = await _validate(document, signed, accepted, store, current, with_crls=True, key_usage=True)
        if revocation.revocation_details is not None:
            revoked = (revocation.revocation_details.revocation_date, None)
        elif revocation.trust_problem_indic is not None:
            source = None  # pyHanko found no usable revocation data
    path = list(status.validation_path) if status.validation_path is not None and problem is None else [signer]
    non_anchors = [c for c in path if store.anchor_for(c) is None] or [signer]
    assessment = Assessment(
        chain=None,
        problem=problem,
        checks=[],
        valid_from=max(c["tbs_certificate"]["validity"]["not_before"].native for c in non_anchors),
        valid_to=min(c["tbs_certificate"]["validity"]["not_after"].native for c in non_anchors),
        source=source,
        revoked=revoked,
        expires=not_after,
    )
    verdict = judge(assessment, bounds)
    sub = verdict.sub_indication
    checks = [Check(name="reference", passed=sub is None, detail=verdict.detail)]
    return report_for(sub, checks, bounds, parsed, confirmed=verdict.confirmed)


def _issuer(status: StandardCMSSignatureStatus) -> x509.Certificate:
    path = status.validation_path
    assert path is not None
    certificates = list(path)
    return certificates[-2]
