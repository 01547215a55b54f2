"""Trust administration rules, and the verifier built from what the database holds."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

import asyncpg
import msgspec
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp, pem, x509

from service.auth.principal import require_role
from service.auth.schemas import Principal
from service.pagination import Page, decode_cursor, page
from service.problems import Conflict, InvalidBody, MalformedBody, NotFound, UnsupportedMediaType, UpstreamFailed
from service.trust import queries
from service.trust.schemas import (
    AnchorIn,
    AnchorOut,
    CertificateClass,
    CertificateIn,
    CertificateOut,
    CRLIn,
    CRLOut,
    OCSPOut,
    OCSPQuery,
)
from service.validation import FieldProblem, collect_problems
from signing.trust import Anchor, CRLRejected, OCSPRejected, TrustStore, key_id, ocsp_request
from signing.verify import Observer, Rejected, Verifier, carried_certificates, parse

MAX_CRL_BYTES: Final = 50 * 1024 * 1024
Fetch = Callable[[str], Awaitable[bytes]]
#: ``ask(url, request_der) -> response_der``
Ask = Callable[[str, bytes], Awaitable[bytes]]


class FetchFailed(Exception):
    """A CRL URL did not give a CRL: unreachable, an HTTP error, or too large."""


def _invalid(pointer: str, code: str, detail: str) -> InvalidBody:
    return InvalidBody(
        detail[:1].upper() + detail[1:] + ".", errors=[FieldProblem(pointer=pointer, code=code, detail=detail)]
    )


def _load_der(data: bytes, loader: Callable[..., Any], pointer: str, code: str, what: str) -> Any:
    """PEM or DER, fully parsed, so that a broken item is refused here rather than failing later."""
    try:
        item = loader(pem.unarmor(data)[2] if pem.detect(data) else data, strict=True)
        item.native  # noqa: B018 - forces the full parse
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as exc:
        # asn1crypto meets hostile DER with whatever its parser trips on, not only ValueError.
        raise _invalid(pointer, code, f"not {what}: {type(exc).__name__}") from None
    return item


def parse_certificate(text: str, pointer: str = "/certificate") -> x509.Certificate:
    certificate: x509.Certificate = _load_der(
        text.encode(), x509.Certificate.load, pointer, "certificate", "an X.509 certificate in PEM"
    )
    return certificate


def parse_crl(data: bytes, pointer: str = "/crl") -> asn1_crl.CertificateList:
    item: asn1_crl.CertificateList = _load_der(
        data, asn1_crl.CertificateList.load, pointer, "crl", "a CRL (PEM or DER)"
    )
    return item


def _store(material: queries.Material) -> TrustStore:
    anchors = [
        Anchor(
            certificate=x509.Certificate.load(r["certificate"]),
            certificate_class=r["certificate_class"],
            test=r["test"],
        )
        for r in material.anchors
    ]
    return TrustStore(
        anchors,
        [x509.Certificate.load(c) for c in material.certificates],
        [asn1_crl.CertificateList.load(c) for c in material.crls],
        [ocsp.OCSPResponse.load(r) for r in material.ocsp_responses],
    )


async def load_store(conn: asyncpg.Connection) -> TrustStore:
    return _store(await queries.material(conn))


class Verifiers:
    """One Verifier (and its cache) per trust generation: rebuilt when anchors, certificates or CRLs change.

    The generation is asked of the database at most every ``max_age`` seconds, so intake does not pay a
    round trip per submission for a change that happens a few times a day.
    """

    def __init__(self, max_age: float = 0.0, observer: Observer | None = None) -> None:
        self.max_age = max_age
        self.observer = observer
        self._generation: str | None = None
        self._verifier: Verifier | None = None
        self._checked = 0.0

    async def current(self, conn: asyncpg.Connection) -> Verifier:
        if self._verifier is not None and time.monotonic() - self._checked < self.max_age:
            return self._verifier
        generation = await queries.generation(conn)
        self._checked = time.monotonic()
        if self._verifier is None or generation != self._generation:
            self._verifier = Verifier(await load_store(conn), observer=self.observer)
            self._generation = generation
        return self._verifier


async def add_anchor(
    conn: asyncpg.Connection, who: Principal, data: AnchorIn, *, test_anchors_allowed: bool
) -> AnchorOut:
    """Keep a CA certificate as an anchor; a test anchor only where ``test_anchors_allowed`` (development).

    In production a test anchor (J-LIS test cards, ``shinsei dev card``'s CA) would let anyone holding
    a test key sign as whoever its card names.
    """
    require_role(who, "admin")
    if data.test and not test_anchors_allowed:
        detail = "test anchors are accepted only in development mode (SHINSEI_ENV=development)"
        raise _invalid("/test", "test_anchor_refused", detail)
    certificate = parse_certificate(data.certificate)
    if not certificate.ca:
        raise _invalid("/certificate", "not_ca", "only CA certificates can be trust anchors")
    added = await _insert_anchor(conn, certificate, data.certificate_class, data.test, data.crl_url, data.ocsp_url)
    if added is None:
        raise Conflict("That certificate is already a trust anchor.")
    return added


async def _insert_anchor(
    conn: asyncpg.Connection,
    certificate: x509.Certificate,
    certificate_class: CertificateClass,
    test: bool,
    crl_url: str | None,
    ocsp_url: str | None,
) -> AnchorOut | None:
    return await queries.insert_anchor(
        conn,
        certificate_class,
        test,
        certificate.dump(),
        hashlib.sha256(certificate.dump()).digest(),
        certificate.subject.human_friendly,
        key_id(certificate),
        certificate["tbs_certificate"]["validity"]["not_after"].native,
        crl_url,
        ocsp_url,
    )


async def register_development_ca(
    conn: asyncpg.Connection, certificate: x509.Certificate, crl: asn1_crl.CertificateList, now: dt.datetime
) -> tuple[bool, CRLOut | None]:
    """The development CA as a *test* jpki anchor (added once), with its current CRL.

    (whether the anchor was added now, the CRL as stored). The caller has checked that this is a
    development environment, as ``add_anchor`` does for the API.
    """
    added = await _insert_anchor(conn, certificate, "jpki", True, None, None)
    if added is None and not await queries.test_anchor_exists(conn, hashlib.sha256(certificate.dump()).digest()):
        # Kept as a production anchor (uploaded by hand): its cards would fail on policy, and saying
        # "already registered" would hide why.
        raise Conflict("The development CA is a trust anchor here, but not a test one: remove it first.")
    return added is not None, await _store_crl(conn, crl, now)


async def refresh_development_crl(
    conn: asyncpg.Connection, certificate: x509.Certificate, crl: asn1_crl.CertificateList, now: dt.datetime
) -> CRLOut | None:
    """Store the development CA's new CRL, if this database has the CA as a test anchor (else None)."""
    if not await queries.test_anchor_exists(conn, hashlib.sha256(certificate.dump()).digest()):
        return None
    return await _store_crl(conn, crl, now)


async def list_anchors(conn: asyncpg.Connection, who: Principal, cursor: str | None, limit: int) -> Page[AnchorOut]:
    require_role(who, "admin")
    after = decode_cursor(cursor, uuid.UUID)
    return page(await queries.list_anchors(conn, after[0] if after else None, limit + 1), limit, lambda a: (str(a.id),))


async def remove_anchor(conn: asyncpg.Connection, who: Principal, anchor_id: uuid.UUID) -> None:
    require_role(who, "admin")
    if not await queries.delete_anchor(conn, anchor_id):
        raise NotFound(f"There is no trust anchor {anchor_id}.")


async def add_certificate(conn: asyncpg.Connection, who: Principal, data: CertificateIn) -> CertificateOut:
    require_role(who, "admin")
    certificate = parse_certificate(data.certificate)
    added = await queries.insert_certificate(
        conn, certificate.dump(), hashlib.sha256(certificate.dump()).digest(), certificate.subject.human_friendly
    )
    if added is None:
        raise Conflict("That certificate is already stored.")
    return added


async def list_certificates(
    conn: asyncpg.Connection, who: Principal, cursor: str | None, limit: int
) -> Page[CertificateOut]:
    require_role(who, "admin")
    after = decode_cursor(cursor, uuid.UUID)
    rows = await queries.list_certificates(conn, after[0] if after else None, limit + 1)
    return page(rows, limit, lambda c: (str(c.id),))


def crl_body(raw: bytes, content_type: str) -> bytes:
    """A CRL upload: ``{"crl": "<PEM>"}`` as JSON, or the DER itself as application/pkix-crl."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/pkix-crl":
        return raw
    if media_type not in ("application/json", ""):
        raise UnsupportedMediaType(
            f'Send a CRL as application/pkix-crl (DER) or JSON {{"crl": PEM}}, not {media_type}.'
        )
    try:
        decoded = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise MalformedBody(f"The body is not valid JSON: {exc}.") from None
    if errors := collect_problems(decoded, CRLIn):
        raise InvalidBody("The body is not a CRL upload.", errors=errors)
    return msgspec.convert(decoded, CRLIn).crl.encode()


async def add_crl(conn: asyncpg.Connection, who: Principal, data: bytes, now: dt.datetime) -> CRLOut:
    require_role(who, "admin")
    stored = await _store_crl(conn, parse_crl(data), now)
    if stored is None:
        raise Conflict("That CRL is already stored.")
    return stored


async def _store_crl(conn: asyncpg.Connection, item: asn1_crl.CertificateList, now: dt.datetime) -> CRLOut | None:
    """Check a CRL against the current anchors (issuer by key, signature, times) and keep it."""
    try:
        info = (await load_store(conn)).add_crl(item, now)
    except CRLRejected as exc:
        raise _invalid("/crl", "crl_rejected", str(exc)) from None
    return await queries.insert_crl(
        conn,
        info.issuer_key_id,
        item.dump(),
        bytes.fromhex(info.sha256),
        info.number,
        info.this_update,
        info.next_update,
        len(info.revoked),
    )


async def list_crls(conn: asyncpg.Connection, who: Principal, cursor: str | None, limit: int) -> Page[CRLOut]:
    require_role(who, "admin")
    after = decode_cursor(cursor, uuid.UUID)
    return page(await queries.list_crls(conn, after[0] if after else None, limit + 1), limit, lambda c: (str(c.id),))


async def refresh_crls(conn: asyncpg.Connection, fetch: Fetch, now: dt.datetime) -> list[dict[str, Any]]:
    """Fetch each anchor's configured CRL URL and keep what verifies; one outcome per URL (no personal data)."""
    anchors = (await queries.material(conn)).anchors
    outcomes = []
    for url in sorted({r["crl_url"] for r in anchors if r["crl_url"]}):
        try:
            data = await fetch(url)
            async with conn.transaction():
                stored = await _store_crl(conn, parse_crl(data), now)
            outcomes.append({"url": url, "outcome": "stored" if stored else "unchanged"})
        except InvalidBody as exc:
            outcomes.append({"url": url, "outcome": "rejected", "detail": exc.detail})
        except FetchFailed as exc:
            outcomes.append({"url": url, "outcome": "unreachable", "detail": str(exc)})
    return outcomes


async def confirm_by_ocsp(
    conn: asyncpg.Connection, verifier: Verifier, signatures: list[bytes], ask: Ask, now: dt.datetime
) -> Verifier:
    """Ask each signer's anchor's OCSP responder now; a verifier that also knows the answers it gave.

    For procedures that require confirmed revocation: an answer produced now was issued after the
    signature, so it confirms the verdict at once. A responder that is missing, silent or wrong is no
    error here: the application then waits, as pending, for the next CRL. Answers are stored, so the
    evidence bundle carries them. The shared store is never changed in place (worker threads read it):
    the answers go into a copy.
    """
    store = verifier.store.copy()
    found = 0
    for signature in signatures:
        certificates = carried_certificates(signature)
        try:
            parsed = parse(signature, [])
        except (Rejected, ValueError, TypeError, KeyError):
            continue
        chains = store.chains(parsed.signer, certificates)
        if not chains:
            continue
        chain = chains[0]
        issuer = chain.certificates[1] if len(chain.certificates) > 1 else chain.anchor.certificate
        url = await queries.ocsp_url(conn, hashlib.sha256(chain.anchor.certificate.dump()).digest())
        if not url:
            continue
        try:
            response = ocsp.OCSPResponse.load(await ask(url, ocsp_request(parsed.signer, issuer).dump()), strict=True)
            answers = store.add_ocsp(response, now)
        except (FetchFailed, OCSPRejected, ValueError, TypeError, KeyError):
            continue
        for answer in answers:
            await queries.insert_ocsp(
                conn, answer.issuer_key_id, answer.serial, response.dump(), bytes.fromhex(answer.sha256),
                answer.status, answer.produced_at, answer.this_update, answer.next_update,
            )  # fmt: skip
            found += 1
    return Verifier(store, observer=verifier.observer) if found else verifier


async def query_ocsp(conn: asyncpg.Connection, who: Principal, data: OCSPQuery, ask: Ask, now: dt.datetime) -> OCSPOut:
    """Ask the responder configured on the certificate's anchor, check the answer, keep it."""
    require_role(who, "admin")
    certificate = parse_certificate(data.certificate)
    material = await queries.material(conn)
    store = _store(material)
    chains = store.chains(certificate)
    if not chains:
        raise _invalid("/certificate", "no_chain", "the certificate does not chain to a trust anchor")
    chain = chains[0]
    issuer = chain.certificates[1] if len(chain.certificates) > 1 else chain.anchor.certificate
    anchor_der = chain.anchor.certificate.dump()
    url = next((r["ocsp_url"] for r in material.anchors if r["certificate"] == anchor_der), None)
    if not url:
        raise _invalid("/certificate", "no_responder", "its trust anchor has no OCSP responder configured")
    try:
        response = ocsp.OCSPResponse.load(await ask(url, ocsp_request(certificate, issuer).dump()), strict=True)
        answers = store.add_ocsp(response, now)
    except FetchFailed as exc:
        raise UpstreamFailed(f"The OCSP responder did not answer: {exc}.") from None
    except (OCSPRejected, ValueError) as exc:
        raise UpstreamFailed(f"The OCSP response cannot be used: {exc}.") from None
    answer = next(
        (a for a in answers if a.serial == certificate.serial_number and a.issuer_key_id == key_id(issuer)), None
    )
    if answer is None:
        raise UpstreamFailed("The OCSP response does not answer for this certificate.")
    await queries.insert_ocsp(
        conn, answer.issuer_key_id, answer.serial, response.dump(), bytes.fromhex(answer.sha256), answer.status,
        answer.produced_at, answer.this_update, answer.next_update,
    )  # fmt: skip
    return OCSPOut(
        status=answer.status,
        serial=format(answer.serial, "x"),
        issuer_key_id=answer.issuer_key_id.hex(),
        produced_at=answer.produced_at,
        this_update=answer.this_update,
        next_update=answer.next_update,
        revoked_at=answer.revoked[0] if answer.revoked else None,
    )
