"""Trust anchors, extra certificates and CRLs; chains found by key, never by name.

J-LIS CA generations share one distinguished name, so an issuer is chosen by its key identifier
and confirmed by its signature; a trust anchor is recognised by its public key. Written here rather
than delegated to certvalidator's path builder so that the verdict can say *which* generation a chain
ends in, and so that time is judged separately (ETSI needs "expired" apart from "no chain"); the
differential test checks every case against pyHanko/certvalidator.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Final, Literal

import msgspec
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp, x509

from signing import crypto
from signing.jpki import CertificateClass

MAX_CHAIN: Final = 5


class Anchor(msgspec.Struct, frozen=True, kw_only=True):
    certificate: x509.Certificate
    certificate_class: CertificateClass
    test: bool = False
    """Test anchors (J-LIS test cards) count only when a verifier is told to accept them."""


class CRLRejected(Exception):
    """A CRL that cannot be used: unknown issuer, bad signature, or nonsensical times."""


class CRLInfo(msgspec.Struct, frozen=True, kw_only=True):
    issuer_key_id: bytes
    number: int | None
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked: dict[int, tuple[dt.datetime, str | None]]
    """Serial number → (revocation date, reason)."""
    sha256: str
    signer_key: bytes
    """SHA-256 of the public key that verified the CRL: it counts only for a chain through that key."""


def key_digest(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(cert.public_key.dump()).digest()


def key_id(cert: x509.Certificate) -> bytes:
    """The subject key identifier, or (when absent) the SHA-1 of the key as RFC 5280 suggests."""
    identifier: bytes = cert.key_identifier or cert.public_key.sha1
    return identifier


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def signed_by(cert: x509.Certificate | asn1_crl.CertificateList, issuer: x509.Certificate) -> bool:
    if isinstance(cert, x509.Certificate):
        body, value = cert["tbs_certificate"], cert["signature_value"]
    else:
        body, value = cert["tbs_cert_list"], cert["signature"]
    try:
        return crypto.verify(issuer.public_key, cert["signature_algorithm"], value.native, body.dump())
    except crypto.WeakAlgorithm:
        return False


class OCSPRejected(Exception):
    """An OCSP response that cannot be used: unsuccessful, unsigned by an authorised responder."""


class OCSPInfo(msgspec.Struct, frozen=True, kw_only=True):
    issuer_key_id: bytes
    serial: int
    status: Literal["good", "revoked", "unknown"]
    revoked: tuple[dt.datetime, str | None] | None
    produced_at: dt.datetime
    this_update: dt.datetime
    next_update: dt.datetime | None
    sha256: str


def _ocsp_signer(basic: ocsp.BasicOCSPResponse, known: list[x509.Certificate]) -> x509.Certificate | None:
    responder_id = basic["tbs_response_data"]["responder_id"]
    for cert in [*(basic["certs"] or []), *known]:
        if responder_id.name == "by_key" and cert.public_key.sha1 == responder_id.chosen.native:
            return cert
        if responder_id.name == "by_name" and cert.subject == responder_id.chosen:
            return cert
    return None


def _authorised(responder: x509.Certificate, issuer: x509.Certificate) -> bool:
    """The CA itself, or a responder it certified for OCSP signing (RFC 6960 §4.2.2.2)."""
    if key_digest(responder) == key_digest(issuer):
        return True
    usage = responder.extended_key_usage_value
    return usage is not None and "ocsp_signing" in usage.native and signed_by(responder, issuer)


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> ocsp.OCSPRequest:
    """An RFC 6960 request about ``cert`` (CertID with SHA-1, which RFC 5019 responders expect)."""
    cert_id = ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": hashlib.sha1(cert.issuer.dump()).digest(),  # noqa: S324 - identifiers, not signatures
            "issuer_key_hash": issuer.public_key.sha1,
            "serial_number": cert.serial_number,
        }
    )
    return ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}})


class Chain(msgspec.Struct, frozen=True):
    certificates: list[x509.Certificate]
    """Signer first, up to (not including) the anchor."""
    anchor: Anchor


class TrustStore:
    """Anchors, certificates and revocation data; ``add_crl``/``add_ocsp`` extend it in place, ``generation`` says when.

    It is not a snapshot: a store that verifiers in other threads read must not be extended. The
    service builds a new store for each trust generation of the database, extends a fresh one while
    checking an upload, and extends a ``copy()`` when intake fetches OCSP answers. The verifier's
    cache is keyed by ``generation``, so an extended store never serves an assessment made before
    the extension.
    """

    def __init__(
        self,
        anchors: Iterable[Anchor],
        certificates: Iterable[x509.Certificate] = (),
        crls: Iterable[asn1_crl.CertificateList] = (),
        ocsp_responses: Iterable[ocsp.OCSPResponse] = (),
    ) -> None:
        self.anchors = list(anchors)
        for anchor in self.anchors:
            if not anchor.certificate.ca:
                raise ValueError("only CA certificates can be trust anchors")
        self._anchor_by_key = {key_digest(a.certificate): a for a in self.anchors}
        self._certificates = [a.certificate for a in self.anchors] + list(certificates)
        #: The newest CRL per signing key (SHA-256 of the key), and its DER.
        self.crls: dict[bytes, CRLInfo] = {}
        self.crl_lists: dict[bytes, asn1_crl.CertificateList] = {}
        for item in crls:
            # A stored CRL whose issuer is no longer trusted (its anchor was removed) applies to
            # no chain any more: it is left out rather than failing the whole store.
            with contextlib.suppress(CRLRejected):
                self.add_crl(item)
        self.ocsp: dict[tuple[bytes, int], OCSPInfo] = {}
        self.ocsp_responses: dict[str, ocsp.OCSPResponse] = {}
        for response in ocsp_responses:
            with contextlib.suppress(OCSPRejected):
                self.add_ocsp(response)
        parts = sorted(fingerprint(c) for c in self._certificates)
        parts += sorted(f"{a.certificate_class}:{a.test}:{fingerprint(a.certificate)}" for a in self.anchors)
        self._base_generation = hashlib.sha256("|".join(parts).encode()).hexdigest()

    def copy(self) -> TrustStore:
        """Another store with the same contents, to extend while verifiers in other threads read this one."""
        other = object.__new__(TrustStore)
        other.__dict__.update(self.__dict__)
        for name in ("crls", "crl_lists", "ocsp", "ocsp_responses"):
            setattr(other, name, dict(getattr(self, name)))
        return other

    @property
    def generation(self) -> str:
        """Changes whenever the anchors, certificates or CRLs in use change: the cache's key."""
        crls = "|".join(sorted(c.sha256 for c in self.crls.values()))
        answers = "|".join(sorted(o.sha256 for o in self.ocsp.values()))
        return hashlib.sha256(f"{self._base_generation}|{crls}|{answers}".encode()).hexdigest()

    def issuers_of(self, cert: x509.Certificate, extra: Iterable[x509.Certificate] = ()) -> list[x509.Certificate]:
        """Certificates whose key signed ``cert``: matched by key identifier (or name), proven by signature."""
        wanted = cert.authority_key_identifier
        candidates = []
        for other in (*self._certificates, *extra):
            if wanted is not None:
                if key_id(other) != wanted:
                    continue
            elif other.subject != cert.issuer:
                continue
            if signed_by(cert, other):
                candidates.append(other)
        return candidates

    def anchor_for(self, cert: x509.Certificate) -> Anchor | None:
        return self._anchor_by_key.get(key_digest(cert))

    def chains(self, cert: x509.Certificate, extra: Iterable[x509.Certificate] = ()) -> list[Chain]:
        """Every path from ``cert`` to an anchor, shortest first."""
        extra = list(extra)
        found: list[Chain] = []

        def walk(path: list[x509.Certificate]) -> None:
            if len(path) > MAX_CHAIN:
                return
            for issuer in self.issuers_of(path[-1], extra):
                anchor = self.anchor_for(issuer)
                if anchor is not None:
                    found.append(Chain(list(path), anchor))
                elif all(key_digest(issuer) != key_digest(p) for p in path):
                    walk([*path, issuer])

        walk([cert])
        return sorted(found, key=lambda c: len(c.certificates))

    def add_crl(
        self,
        item: asn1_crl.CertificateList,
        now: dt.datetime | None = None,
        carried: Iterable[x509.Certificate] = (),
    ) -> CRLInfo:
        """Check a CRL (issuer by key, signature, times) and keep it if it is the newest for that key.

        Its signer is looked for among the store's certificates, then among ``carried`` ones (those a
        signature carries, such as a new CA generation's link certificate). A CRL signed by a carried
        certificate is not trusted for that: it counts only where a validated chain passes through
        the very key that signed it (``crl_for`` checks), as ETSI EN 319 102-1 asks of revocation
        data, whose issuer must itself be on a trusted path.
        """
        tbs = item["tbs_cert_list"]
        wanted = item.authority_key_identifier

        def signers_among(certificates: Iterable[x509.Certificate]) -> list[x509.Certificate]:
            return [
                c
                for c in certificates
                if (key_id(c) == wanted if wanted is not None else c.subject == tbs["issuer"]) and signed_by(item, c)
            ]

        issuers = signers_among(self._certificates) or signers_among(carried)
        if not issuers:
            raise CRLRejected("no known CA key, trusted or carried by the signature, signed this CRL")
        this_update = tbs["this_update"].native
        next_update = tbs["next_update"].native
        if next_update is not None and next_update <= this_update:
            raise CRLRejected("nextUpdate is not after thisUpdate")
        if now is not None and this_update > now + dt.timedelta(minutes=5):
            raise CRLRejected("thisUpdate is in the future")
        revoked = {}
        for entry in tbs["revoked_certificates"]:
            reason = entry.crl_reason_value
            revoked[entry["user_certificate"].native] = (
                entry["revocation_date"].native,
                reason.native if reason is not None else None,
            )
        info = CRLInfo(
            issuer_key_id=key_id(issuers[0]),
            number=item.crl_number_value.native if item.crl_number_value is not None else None,
            this_update=this_update,
            next_update=next_update,
            revoked=revoked,
            sha256=hashlib.sha256(item.dump()).hexdigest(),
            signer_key=key_digest(issuers[0]),
        )
        # Kept by the key that verified it, not by its key identifier: an identifier proves nothing.
        current = self.crls.get(info.signer_key)
        if current is None or current.this_update < info.this_update:
            self.crls[info.signer_key] = info
            self.crl_lists[info.signer_key] = item
        return info

    @property
    def certificates(self) -> list[x509.Certificate]:
        """The extra (non-anchor) certificates: link and rollover certificates."""
        anchors = {fingerprint(a.certificate) for a in self.anchors}
        return [c for c in self._certificates if fingerprint(c) not in anchors]

    def crl_for(self, issuer: x509.Certificate) -> CRLInfo | None:
        """The newest CRL signed by ``issuer``'s key (a key identifier alone proves nothing)."""
        return self.crls.get(key_digest(issuer))

    def add_ocsp(self, response: ocsp.OCSPResponse, now: dt.datetime | None = None) -> list[OCSPInfo]:
        """Check an OCSP response (successful, signed by the CA or its delegated responder) and keep its answers."""
        if response["response_status"].native != "successful":
            raise OCSPRejected(f"the responder answered {response['response_status'].native}")
        basic = response.basic_ocsp_response
        tbs = basic["tbs_response_data"]
        responder = _ocsp_signer(basic, self._certificates)
        if responder is None:
            raise OCSPRejected("the responder's certificate is not known")
        try:
            ok = crypto.verify(
                responder.public_key, basic["signature_algorithm"], basic["signature"].native, tbs.dump()
            )
        except crypto.WeakAlgorithm as exc:
            raise OCSPRejected(str(exc)) from None
        if not ok:
            raise OCSPRejected("the response's signature does not verify")
        produced_at = tbs["produced_at"].native
        if now is not None and produced_at > now + dt.timedelta(minutes=5):
            raise OCSPRejected("producedAt is in the future")
        digest = hashlib.sha256(response.dump()).hexdigest()
        answers = []
        for single in tbs["responses"]:
            cert_id = single["cert_id"]
            issuers = [c for c in self._certificates if c.public_key.sha1 == cert_id["issuer_key_hash"].native]
            if not issuers or not _authorised(responder, issuers[0]):
                continue
            status = single["cert_status"]
            revoked = None
            if status.name == "revoked":
                reason = status.chosen["revocation_reason"]
                revoked = (
                    status.chosen["revocation_time"].native,
                    reason.native if reason.native is not None else None,
                )
            info = OCSPInfo(
                issuer_key_id=key_id(issuers[0]),
                serial=cert_id["serial_number"].native,
                status=status.name if status.name in ("good", "revoked") else "unknown",
                revoked=revoked,
                produced_at=produced_at,
                this_update=single["this_update"].native,
                next_update=single["next_update"].native,
                sha256=digest,
            )
            current = self.ocsp.get((info.issuer_key_id, info.serial))
            if current is None or current.this_update < info.this_update:
                self.ocsp[(info.issuer_key_id, info.serial)] = info
                self.ocsp_responses[digest] = response
            answers.append(info)
        if not answers:
            raise OCSPRejected("the response answers for no certificate of a trusted CA")
        return answers

    def ocsp_for(self, issuer: x509.Certificate, serial: int) -> OCSPInfo | None:
        return self.ocsp.get((key_id(issuer), serial))
