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
from typing import Final

import msgspec
from asn1crypto import crl as asn1_crl
from asn1crypto import x509

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


class Chain(msgspec.Struct, frozen=True):
    certificates: list[x509.Certificate]
    """Signer first, up to (not including) the anchor."""
    anchor: Anchor


class TrustStore:
    """An immutable snapshot; build a new one when anchors or CRLs change (``generation`` says so)."""

    def __init__(
        self,
        anchors: Iterable[Anchor],
        certificates: Iterable[x509.Certificate] = (),
        crls: Iterable[asn1_crl.CertificateList] = (),
    ) -> None:
        self.anchors = list(anchors)
        for anchor in self.anchors:
            if not anchor.certificate.ca:
                raise ValueError("only CA certificates can be trust anchors")
        self._anchor_by_key = {key_digest(a.certificate): a for a in self.anchors}
        self._certificates = [a.certificate for a in self.anchors] + list(certificates)
        self.crls: dict[bytes, CRLInfo] = {}
        self.crl_lists: dict[bytes, asn1_crl.CertificateList] = {}
        for item in crls:
            # A stored CRL whose issuer is no longer trusted (its anchor was removed) applies to
            # no chain any more: it is left out rather than failing the whole store.
            with contextlib.suppress(CRLRejected):
                self.add_crl(item)
        parts = sorted(fingerprint(c) for c in self._certificates)
        parts += sorted(f"{a.certificate_class}:{a.test}:{fingerprint(a.certificate)}" for a in self.anchors)
        self._base_generation = hashlib.sha256("|".join(parts).encode()).hexdigest()

    @property
    def generation(self) -> str:
        """Changes whenever the anchors, certificates or CRLs in use change: the cache's key."""
        crls = "|".join(sorted(c.sha256 for c in self.crls.values()))
        return hashlib.sha256(f"{self._base_generation}|{crls}".encode()).hexdigest()

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

    def add_crl(self, item: asn1_crl.CertificateList, now: dt.datetime | None = None) -> CRLInfo:
        """Check a CRL (issuer by key, signature, times) and keep it if it is the newest for that key."""
        tbs = item["tbs_cert_list"]
        wanted = item.authority_key_identifier
        issuers = [
            c
            for c in self._certificates
            if (key_id(c) == wanted if wanted is not None else c.subject == tbs["issuer"]) and signed_by(item, c)
        ]
        if not issuers:
            raise CRLRejected("no trusted CA key signed this CRL")
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
        )
        current = self.crls.get(info.issuer_key_id)
        if current is None or current.this_update < info.this_update:
            self.crls[info.issuer_key_id] = info
            self.crl_lists[info.issuer_key_id] = item
        return info

    @property
    def certificates(self) -> list[x509.Certificate]:
        """The extra (non-anchor) certificates: link and rollover certificates."""
        anchors = {fingerprint(a.certificate) for a in self.anchors}
        return [c for c in self._certificates if fingerprint(c) not in anchors]

    def crl_for(self, issuer: x509.Certificate) -> CRLInfo | None:
        return self.crls.get(key_id(issuer))
