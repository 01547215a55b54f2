"""Trust administration rules, and the verifier built from what the database holds."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

import asyncpg
import msgspec
from asn1crypto import crl as asn1_crl
from asn1crypto import pem, x509

from service.auth.principal import require_role
from service.auth.schemas import Principal
from service.pagination import Page, decode_cursor, page
from service.problems import Conflict, InvalidBody, NotFound, UnsupportedMediaType
from service.trust import queries
from service.trust.schemas import AnchorIn, AnchorOut, CertificateIn, CertificateOut, CRLIn, CRLOut
from service.validation import FieldProblem, collect_problems
from signing.trust import Anchor, CRLRejected, TrustStore, key_id
from signing.verify import Verifier

MAX_CRL_BYTES: Final = 50 * 1024 * 1024
Fetch = Callable[[str], Awaitable[bytes]]


class FetchFailed(Exception):
    """A CRL URL did not give a CRL: unreachable, an HTTP error, or too large."""


def _invalid(pointer: str, code: str, detail: str) -> InvalidBody:
    return InvalidBody(
        detail[:1].upper() + detail[1:] + ".", errors=[FieldProblem(pointer=pointer, code=code, detail=detail)]
    )


def parse_certificate(text: str, pointer: str = "/certificate") -> x509.Certificate:
    try:
        data = text.encode()
        der = pem.unarmor(data)[2] if pem.detect(data) else data
        certificate = x509.Certificate.load(der, strict=True)
        certificate.native  # noqa: B018 - a full parse, so a broken certificate is refused here
    except (ValueError, TypeError) as exc:
        raise _invalid(pointer, "certificate", f"not an X.509 certificate in PEM: {exc}") from None
    return certificate


def parse_crl(data: bytes, pointer: str = "/crl") -> asn1_crl.CertificateList:
    try:
        der = pem.unarmor(data)[2] if pem.detect(data) else data
        item = asn1_crl.CertificateList.load(der, strict=True)
        item.native  # noqa: B018 - a full parse, so a broken CRL is refused here
    except (ValueError, TypeError) as exc:
        raise _invalid(pointer, "crl", f"not a CRL (PEM or DER): {exc}") from None
    return item


async def load_store(conn: asyncpg.Connection) -> TrustStore:
    anchors, certificates, crls = await queries.material(conn)
    return TrustStore(
        [
            Anchor(
                certificate=x509.Certificate.load(r["certificate"]),
                certificate_class=r["certificate_class"],
                test=r["test"],
            )
            for r in anchors
        ],
        [x509.Certificate.load(c) for c in certificates],
        [asn1_crl.CertificateList.load(c) for c in crls],
    )


class Verifiers:
    """One Verifier (and its cache) per trust generation: rebuilt when anchors, certificates or CRLs change."""

    def __init__(self) -> None:
        self._generation: str | None = None
        self._verifier: Verifier | None = None

    async def current(self, conn: asyncpg.Connection) -> Verifier:
        generation = await queries.generation(conn)
        if self._verifier is None or generation != self._generation:
            self._verifier = Verifier(await load_store(conn))
            self._generation = generation
        return self._verifier


async def add_anchor(conn: asyncpg.Connection, who: Principal, data: AnchorIn) -> AnchorOut:
    require_role(who, "admin")
    certificate = parse_certificate(data.certificate)
    if not certificate.ca:
        raise _invalid("/certificate", "not_ca", "only CA certificates can be trust anchors")
    added = await queries.insert_anchor(
        conn,
        data.certificate_class,
        data.test,
        certificate.dump(),
        hashlib.sha256(certificate.dump()).digest(),
        certificate.subject.human_friendly,
        key_id(certificate),
        certificate["tbs_certificate"]["validity"]["not_after"].native,
        data.crl_url,
    )
    if added is None:
        raise Conflict("That certificate is already a trust anchor.")
    return added


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
    if media_type in ("application/json", ""):
        try:
            return msgspec.json.decode(raw, type=CRLIn).crl.encode()
        except msgspec.ValidationError:
            raise InvalidBody(
                "The body is not a CRL upload.", errors=collect_problems(msgspec.json.decode(raw), CRLIn)
            ) from None
    raise UnsupportedMediaType(f'Send a CRL as application/pkix-crl (DER) or JSON {{"crl": PEM}}, not {media_type}.')


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
    anchors, _, _ = await queries.material(conn)
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
