"""Verify a detached CMS (CAdES-BES) over the exact bytes, with an ETSI EN 319 102-1 verdict.

Per signature only the cheap work runs: parse, digest, and the public-key check over the signed
attributes. The chain, key usage, certificate policy and revocation status of a signer certificate are
assessed once and cached until the earlier of the CRL's nextUpdate and the certificate's notAfter (the
trust store's ``generation`` is part of the key, so a newer CRL replaces the entry). The time-bound
rules are applied per signature, because they depend on when it was made:

* ``signed_after`` (L): the signature is younger than this (the nonce the applicant signed was issued
  then); ``signed_before`` (U): it existed by then (receipt time, or a time-stamp; defaults to the
  validation time).
* revoked or expired before L → TOTAL_FAILED (REVOKED / EXPIRED); notBefore after U →
  TOTAL_FAILED/NOT_YET_VALID; revoked within (L, U] or expired before U without better proof → the
  ``_NO_POE`` indeterminates.
* Revocation data must be *fresh* as EN 319 102-1 §5.2.5 defines it when no freshness constraint is
  set (what the EU's DSS does): issued after ``validation_time − (nextUpdate − thisUpdate)``, that is,
  current at the validation time, even if it was issued before the signature. None, or none fresh →
  INDETERMINATE/TRY_LATER. An answer without nextUpdate says nothing of its own freshness: it counts
  only when issued after L.
* Data issued after L (plus a grace period) *confirms* the verdict: no revocation before the
  signature was made can be missing from it. The report says whether the verdict is confirmed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from typing import Any, Final, NamedTuple, Protocol

import msgspec
from asn1crypto import cms, x509

from signing import crypto, jpki
from signing.jpki import CertificateClass
from signing.report import (
    Check,
    Indication,
    RevocationSource,
    SignerCertificate,
    SubIndication,
    VerificationReport,
)
from signing.trust import Anchor, Chain, CRLInfo, OCSPInfo, TrustStore, fingerprint, key_id

CACHE_SIZE: Final = 10_000
#: Clocks differ: revocation data stamped this far after the validation time still counts as issued.
CLOCK_SKEW: Final = dt.timedelta(minutes=5)


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """Which certificates count: the classes a procedure accepts, and whether test cards do."""

    classes: frozenset[CertificateClass]
    accept_test: bool = False
    check_revocation: bool = True
    """Off only for the agency's own receipts, whose root the checker pins (see ``receipts``)."""


class Bounds(msgspec.Struct, frozen=True, kw_only=True):
    validation_time: dt.datetime
    signed_after: dt.datetime | None = None
    signed_before: dt.datetime | None = None
    confirmation_grace: dt.timedelta = dt.timedelta(0)
    """How long after ``signed_after`` revocation data must have been issued to confirm the verdict."""

    @property
    def upper(self) -> dt.datetime:
        return self.signed_before or self.validation_time


class Assessment(msgspec.Struct, frozen=True, kw_only=True):
    """What holds for a signer certificate whatever the signature: cached."""

    chain: Chain | None
    problem: tuple[SubIndication, str] | None
    checks: list[Check]
    valid_from: dt.datetime
    valid_to: dt.datetime
    source: CRLInfo | OCSPInfo | None
    """The freshest revocation data about the certificate: a CRL or an OCSP response."""
    revoked: tuple[dt.datetime, str | None] | None
    expires: dt.datetime
    signer: SignerCertificate | None = None
    holder: jpki.Holder | None = None


class Parsed(msgspec.Struct, frozen=True, kw_only=True):
    """A CMS that passed the structural checks."""

    signer_info: cms.SignerInfo
    signed_attributes: bytes
    """The DER the signature covers, taken from the received bytes before anything parsed them."""
    signer: x509.Certificate
    certificates: list[x509.Certificate]
    signing_time: dt.datetime | None


class Rejected(Exception):
    def __init__(self, sub_indication: SubIndication, detail: str, checks: list[Check]) -> None:
        super().__init__(detail)
        self.sub_indication = sub_indication
        self.checks = checks


def parse(signature: bytes, checks: list[Check]) -> Parsed:
    """Structure first: a detached SignedData with exactly one signer, whose certificate it carries."""
    try:
        info = cms.ContentInfo.load(signature, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        signed = info["content"]
        signer_infos = list(signed["signer_infos"])
        encapsulated = signed["encap_content_info"]
        detached = encapsulated["content"].native is None
        certificates = [c.chosen for c in signed["certificates"] if c.name == "certificate"]
    except (ValueError, TypeError, KeyError) as exc:
        checks.append(Check(name="format", passed=False, detail=f"not a CMS SignedData: {exc}"))
        raise Rejected("FORMAT_FAILURE", "not a CMS SignedData", checks) from None
    if not detached:
        checks.append(Check(name="format", passed=False, detail="the signature must be detached (no eContent)"))
        raise Rejected("FORMAT_FAILURE", "not detached", checks)
    if len(signer_infos) != 1:
        checks.append(Check(name="format", passed=False, detail=f"{len(signer_infos)} signers; exactly one per CMS"))
        raise Rejected("FORMAT_FAILURE", "not exactly one signer", checks)
    signer_info = signer_infos[0]
    signed_attributes = signed_attributes_der(signer_info)
    if not signer_info["signed_attrs"]:
        checks.append(Check(name="format", passed=False, detail="no signed attributes (CAdES requires them)"))
        raise Rejected("FORMAT_FAILURE", "no signed attributes", checks)
    checks.append(Check(name="format", passed=True, detail="detached CMS SignedData, one signer"))
    signer = _signer(signer_info["sid"], certificates)
    attrs = {a["type"].native: a["values"] for a in signer_info["signed_attrs"]}
    if signer is None or not _certificate_attribute_matches(attrs, signer):
        detail = (
            "the CMS does not carry the signer's certificate"
            if signer is None
            else "the signingCertificate attribute names another certificate"
        )
        checks.append(Check(name="signing_certificate", passed=False, detail=detail))
        raise Rejected("NO_SIGNING_CERTIFICATE_FOUND", detail, checks)
    checks.append(Check(name="signing_certificate", passed=True, detail="carried in the CMS, matching the signer id"))
    signing_time = attrs["signing_time"][0].native if "signing_time" in attrs else None
    return Parsed(
        signer_info=signer_info,
        signed_attributes=signed_attributes,
        signer=signer,
        certificates=certificates,
        signing_time=signing_time,
    )


def carried_certificates(signature: bytes) -> list[x509.Certificate]:
    """The certificates a CMS carries (none when it does not parse): candidate CRL signers for ``--crl``."""
    try:
        signed = cms.ContentInfo.load(signature)["content"]
        return [c.chosen for c in signed["certificates"] if c.name == "certificate"]
    except (ValueError, TypeError, KeyError):
        return []


def _signer(sid: cms.SignerIdentifier, certificates: list[x509.Certificate]) -> x509.Certificate | None:
    for cert in certificates:
        if sid.name == "issuer_and_serial_number":
            # Serial first, then the issuer's DER: asn1crypto's Name equality normalises (slowly).
            wanted = sid.chosen
            if cert.serial_number == wanted["serial_number"].native and cert.issuer.dump() == wanted["issuer"].dump():
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    return None


def _certificate_attribute_matches(attrs: dict[str, Any], signer: x509.Certificate) -> bool:
    """ESS signingCertificate(V2), when present, must name the certificate that verifies (CAdES)."""
    for name in ("signing_certificate_v2", "signing_certificate"):
        if name not in attrs:
            continue
        ids = attrs[name][0]["certs"]
        if not ids:
            return False
        algorithm = "sha1" if name == "signing_certificate" else ids[0]["hash_algorithm"]["algorithm"].native
        return bool(ids[0]["cert_hash"].native == hashlib.new(algorithm, signer.dump()).digest())
    return True


def signed_attributes_der(signer_info: cms.SignerInfo) -> bytes:
    """What the signature covers: the signed attributes as a SET OF (RFC 5652 §5.4).

    Built from the received bytes with the SET tag in place of the [0] one; asn1crypto's ``untag()``
    would re-encode the whole structure, at about 5 ms a signature.
    """
    contents: bytes = signer_info["signed_attrs"].contents
    size = len(contents)
    length = (
        bytes([size])
        if size < 0x80
        else bytes([0x80 | ((size.bit_length() + 7) // 8)]) + size.to_bytes((size.bit_length() + 7) // 8, "big")
    )
    return b"\x31" + length + contents


def check_cryptography(document: bytes, parsed: Parsed, checks: list[Check]) -> None:
    """Digest, then the signature over the signed attributes; the allow-list decides what is weak."""
    si = parsed.signer_info
    digest_name = si["digest_algorithm"]["algorithm"].native
    attrs = {a["type"].native: a["values"] for a in si["signed_attrs"]}
    try:
        computed = crypto.digest(digest_name, document)
        crypto.public_key(parsed.signer.public_key)
    except crypto.WeakAlgorithm as exc:
        checks.append(Check(name="algorithms", passed=False, detail=str(exc)))
        raise Rejected("CRYPTO_CONSTRAINTS_FAILURE_NO_POE", str(exc), checks) from None
    if "message_digest" not in attrs or "content_type" not in attrs:
        checks.append(Check(name="format", passed=False, detail="messageDigest and contentType are required"))
        raise Rejected("FORMAT_FAILURE", "missing attributes", checks)
    if attrs["message_digest"][0].native != computed:
        checks.append(Check(name="digest", passed=False, detail=f"the document's {digest_name} is not the signed one"))
        raise Rejected("HASH_FAILURE", "digest mismatch", checks)
    checks.append(Check(name="digest", passed=True, detail=f"{digest_name} of the document matches"))
    try:
        ok = crypto.verify(
            parsed.signer.public_key,
            si["signature_algorithm"],
            si["signature"].native,
            parsed.signed_attributes,
            digest_name,
        )
    except crypto.WeakAlgorithm as exc:
        checks.append(Check(name="algorithms", passed=False, detail=str(exc)))
        raise Rejected("CRYPTO_CONSTRAINTS_FAILURE_NO_POE", str(exc), checks) from None
    checks.append(
        Check(name="algorithms", passed=True, detail=f"{si['signature_algorithm'].signature_algo} with {digest_name}")
    )
    if not ok:
        checks.append(Check(name="signature", passed=False, detail="the signature value does not verify"))
        raise Rejected("SIG_CRYPTO_FAILURE", "bad signature", checks)
    checks.append(Check(name="signature", passed=True, detail="verifies with the signer's public key"))


def policy_problem(cert: x509.Certificate, anchor: Anchor) -> str | None:
    """Why the certificate's policy does not make it a signing certificate of its class, if it does not."""
    if anchor.certificate_class != "jpki":
        return None
    found = jpki.policies(cert)
    if jpki.AUTHENTICATION_POLICY in found:
        return "a user-authentication certificate (利用者証明用) cannot sign"
    wanted = jpki.TEST_SIGNING_POLICY if anchor.test else jpki.SIGNING_POLICY
    return None if wanted in found else f"policy {wanted} is required"


def assess(store: TrustStore, cert: x509.Certificate, extra: list[x509.Certificate], policy: Policy) -> Assessment:
    """Chain, constraints and revocation for one certificate (the cached, from-the-store part)."""
    checks: list[Check] = []
    chains = store.chains(cert, extra)
    usable = [
        c for c in chains if c.anchor.certificate_class in policy.classes and (not c.anchor.test or policy.accept_test)
    ]
    problem: tuple[SubIndication, str] | None = None
    chain = usable[0] if usable else (chains[0] if chains else None)
    if not chains:
        problem = ("NO_CERTIFICATE_CHAIN_FOUND", "no path to a trust anchor")
    elif not usable:
        kind = "a test anchor" if chains[0].anchor.test else f"a {chains[0].anchor.certificate_class} anchor"
        problem = ("CHAIN_CONSTRAINTS_FAILURE", f"the chain ends in {kind}, which this policy does not accept")
    checks.append(Check(name="chain", passed=bool(usable), detail=problem[1] if problem else "to a trusted anchor"))
    if chain is not None and problem is None:
        usage = cert.key_usage_value.native if cert.key_usage_value is not None else set()
        usage_ok = "non_repudiation" in usage
        detail = "nonRepudiation" if usage_ok else "keyUsage lacks nonRepudiation"
        checks.append(Check(name="key_usage", passed=usage_ok, detail=detail))
        reason = policy_problem(cert, chain.anchor) if usage_ok else None
        if usage_ok:
            checks.append(Check(name="policy", passed=reason is None, detail=reason or "the policy fits the class"))
        if not usage_ok:
            problem = ("CHAIN_CONSTRAINTS_FAILURE", detail)
        elif reason is not None:
            problem = ("CHAIN_CONSTRAINTS_FAILURE", reason)
    valid_from, valid_to, source, revoked = standing(store, cert, chain)
    expires = min(valid_to, source.next_update) if source is not None and source.next_update else valid_to
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
        expires=expires,
    )


class Standing(NamedTuple):
    valid_from: dt.datetime
    valid_to: dt.datetime
    """The window in which every certificate of the path is valid."""
    source: CRLInfo | OCSPInfo | None
    """The freshest revocation data about the certificate: a CRL or an OCSP response."""
    revoked: tuple[dt.datetime, str | None] | None


def standing(store: TrustStore, cert: x509.Certificate, chain: Chain | None) -> Standing:
    """The validity window of the path and what the freshest revocation data says of ``cert``."""
    path = chain.certificates if chain else [cert]
    valid_from = max(c["tbs_certificate"]["validity"]["not_before"].native for c in path)
    valid_to = min(c["tbs_certificate"]["validity"]["not_after"].native for c in path)
    source: CRLInfo | OCSPInfo | None = None
    revoked = None
    if chain is not None:
        issuer = chain.certificates[1] if len(chain.certificates) > 1 else chain.anchor.certificate
        source = freshest(store.crl_for(issuer), store.ocsp_for(issuer, cert.serial_number))
        if isinstance(source, CRLInfo):
            revoked = source.revoked.get(cert.serial_number)
        elif source is not None:
            revoked = source.revoked
    return Standing(valid_from, valid_to, source, revoked)


def freshest(crl: CRLInfo | None, answer: OCSPInfo | None) -> CRLInfo | OCSPInfo | None:
    """The more recent of a CRL and an OCSP answer (an ``unknown`` answer says nothing)."""
    usable: list[CRLInfo | OCSPInfo] = [s for s in (crl, answer) if s is not None]
    usable = [s for s in usable if not isinstance(s, OCSPInfo) or s.status != "unknown"]
    return max(usable, key=lambda s: s.this_update) if usable else None


class Judgement(msgspec.Struct, frozen=True, kw_only=True):
    sub_indication: SubIndication | None
    """``None`` means TOTAL_PASSED."""
    detail: str
    confirmed: bool = False
    """Revocation data issued after the signature was made (and the grace period) backs the verdict."""


def fresh(source: CRLInfo | OCSPInfo, bounds: Bounds) -> bool:
    """EN 319 102-1 §5.2.5 without a freshness constraint: current at the validation time."""
    now = bounds.validation_time
    if source.this_update > now + CLOCK_SKEW:
        return False
    if source.next_update is None:
        return bounds.signed_after is not None and source.this_update >= bounds.signed_after
    return source.this_update > now - (source.next_update - source.this_update)


def judge(assessment: Assessment, bounds: Bounds, check_revocation: bool = True) -> Judgement:
    """The time-bound rules (see the module docstring)."""
    if assessment.problem is not None:
        return Judgement(sub_indication=assessment.problem[0], detail=assessment.problem[1])
    low, high = bounds.signed_after, bounds.upper
    if assessment.valid_from > high:
        detail = f"the certificate is valid only from {assessment.valid_from.isoformat()}"
        return Judgement(sub_indication="NOT_YET_VALID", detail=detail)
    if low is not None and assessment.valid_to < low:
        detail = f"the certificate expired on {assessment.valid_to.isoformat()}, before the signature was made"
        return Judgement(sub_indication="EXPIRED", detail=detail)
    if assessment.revoked is not None:
        revoked_at = assessment.revoked[0]
        if low is not None and revoked_at <= low:
            detail = f"revoked on {revoked_at.isoformat()}, before the signature was made"
            return Judgement(sub_indication="REVOKED", detail=detail)
        if revoked_at <= high:
            detail = f"revoked on {revoked_at.isoformat()}; nothing proves the signature is older"
            return Judgement(sub_indication="REVOKED_NO_POE", detail=detail)
    if assessment.valid_to < high:
        detail = f"the certificate expired on {assessment.valid_to.isoformat()}"
        return Judgement(sub_indication="OUT_OF_BOUNDS_NO_POE", detail=detail)
    source = assessment.source
    if not check_revocation:
        return Judgement(sub_indication=None, detail="valid; revocation is not checked for this policy")
    if source is None:
        return Judgement(sub_indication="TRY_LATER", detail="no revocation data for the issuing CA")
    kind = "CRL" if isinstance(source, CRLInfo) else "OCSP response"
    if not fresh(source, bounds):
        return Judgement(sub_indication="TRY_LATER", detail=f"the {kind} is not current at the validation time")
    # thisUpdate is a GeneralizedTime of whole seconds (RFC 5280 §4.1.2.5.2, RFC 6960 responders alike):
    # data issued in the second the nonce was issued counts as issued after it.
    if low is not None and source.this_update >= low.replace(microsecond=0) + bounds.confirmation_grace:
        detail = f"not revoked: confirmed by the {kind} of {source.this_update.isoformat()}, issued after the signature"
        return Judgement(sub_indication=None, detail=detail, confirmed=True)
    detail = f"not revoked by the current {kind}; to be confirmed by revocation data issued after the signature"
    return Judgement(sub_indication=None, detail=detail)


def summarise(cert: x509.Certificate, chain: Chain | None) -> SignerCertificate:
    return SignerCertificate(
        issuer=cert.issuer.human_friendly,
        serial=format(cert.serial_number, "x"),
        sha256=fingerprint(cert),
        certificate_class=chain.anchor.certificate_class if chain else None,
        ca_generation=key_id(chain.anchor.certificate).hex() if chain else None,
        test=chain.anchor.test if chain else False,
        not_before=cert["tbs_certificate"]["validity"]["not_before"].native,
        not_after=cert["tbs_certificate"]["validity"]["not_after"].native,
        subject=cert.subject.human_friendly,
    )


def report_for(
    sub: SubIndication | None,
    checks: list[Check],
    bounds: Bounds,
    parsed: Parsed | None = None,
    assessment: Assessment | None = None,
    confirmed: bool = False,
) -> VerificationReport:
    from signing.report import FAILED_SUBINDICATIONS

    indication: Indication = (
        "TOTAL_PASSED" if sub is None else ("TOTAL_FAILED" if sub in FAILED_SUBINDICATIONS else "INDETERMINATE")
    )
    signer = holder = revocation = None
    revoked_at = None
    if assessment is not None and assessment.signer is not None:
        signer, holder = assessment.signer, assessment.holder
    elif parsed is not None:
        signer, holder = summarise(parsed.signer, None), jpki.holder(parsed.signer)
    if assessment is not None and assessment.source is not None:
        source = assessment.source
        crl = isinstance(source, CRLInfo)
        revocation = RevocationSource(
            kind="crl" if crl else "ocsp",
            issuer_key_id=source.issuer_key_id.hex(),
            crl_number=source.number if isinstance(source, CRLInfo) else None,
            produced_at=source.produced_at if isinstance(source, OCSPInfo) else None,
            this_update=source.this_update,
            next_update=source.next_update,
            confirmed=confirmed,
        )
        revoked_at = assessment.revoked[0] if assessment.revoked else None
    return VerificationReport(
        indication=indication,
        sub_indication=sub,
        checks=checks,
        signer=signer,
        holder=holder,
        claimed_signing_time=parsed.signing_time if parsed else None,
        revocation=revocation,
        revoked_at=revoked_at,
        validation_time=bounds.validation_time,
        signed_after=bounds.signed_after,
    )


class Observer(Protocol):
    """Told of every cache lookup and every report, to count them (the service's metrics)."""

    def cache_lookup(self, hit: bool) -> None: ...
    def verified(self, report: VerificationReport) -> None: ...


class Verifier:
    """The fast path: structural and cryptographic checks per call, certificate assessments cached."""

    def __init__(self, store: TrustStore, cache_size: int = CACHE_SIZE, observer: Observer | None = None) -> None:
        self.store = store
        self.observer = observer
        self._size = cache_size
        self._cache: OrderedDict[tuple[str, str, Policy, str], Assessment] = OrderedDict()
        # ``averify`` runs in worker threads: the LRU's reordering and eviction are not atomic.
        # The assessment itself is computed outside the lock (two threads may both compute it).
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def _assessment(self, parsed: Parsed, policy: Policy, now: dt.datetime) -> Assessment:
        extras = "".join(sorted(fingerprint(c) for c in parsed.certificates))
        key = (fingerprint(parsed.signer), extras, policy, self.store.generation)
        with self._lock:
            cached = self._cache.get(key)
            hit = cached is not None and cached.expires > now
            if hit:
                self.hits += 1
                self._cache.move_to_end(key)
            else:
                self.misses += 1
        if self.observer is not None:
            self.observer.cache_lookup(hit)
        if hit and cached is not None:
            return cached
        assessment = assess(self.store, parsed.signer, parsed.certificates, policy)
        with self._lock:
            self._cache[key] = assessment
            self._cache.move_to_end(key)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return assessment

    def verify(self, document: bytes, signature: bytes, policy: Policy, bounds: Bounds) -> VerificationReport:
        report = self._verify(document, signature, policy, bounds)
        if self.observer is not None:
            self.observer.verified(report)
        return report

    def _verify(self, document: bytes, signature: bytes, policy: Policy, bounds: Bounds) -> VerificationReport:
        checks: list[Check] = []
        parsed = None
        try:
            parsed = parse(signature, checks)
            check_cryptography(document, parsed, checks)
            assessment = self._assessment(parsed, policy, bounds.validation_time)
        except Rejected as rejected:
            return report_for(rejected.sub_indication, rejected.checks, bounds, parsed)
        except (ValueError, TypeError, KeyError) as exc:
            # asn1crypto parses lazily: malformed DER inside the CMS surfaces where it is read.
            checks.append(Check(name="format", passed=False, detail=f"malformed CMS: {exc}"))
            return report_for("FORMAT_FAILURE", checks, bounds)
        verdict = judge(assessment, bounds, policy.check_revocation)
        checks += assessment.checks
        sub = verdict.sub_indication
        checks.append(Check(name="time_and_revocation", passed=sub is None, detail=verdict.detail))
        return report_for(sub, checks, bounds, parsed, assessment, confirmed=verdict.confirmed)

    async def averify(self, document: bytes, signature: bytes, policy: Policy, bounds: Bounds) -> VerificationReport:
        """Off the event loop: RSA and hashing hold the GIL only in short stretches."""
        return await asyncio.to_thread(self.verify, document, signature, policy, bounds)
