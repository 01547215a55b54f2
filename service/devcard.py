"""``shinsei dev card``: a test card from the development CA, which the local database trusts as a test anchor."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Final

import asyncpg
import msgspec
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from service import migrate
from service.db import init_connection
from service.embedded import database_url
from service.settings import MIGRATIONS_DIR, Settings
from service.trust import service as trust_service
from service.trust.schemas import CRLOut
from signing import devca, jpki
from signing.devca import CardHolder

#: What a card says unless told otherwise: the same person as docs/examples/nta-kaigyo-todoke.answers.json
#: (and the test PKI's applicant), so that a form binding its answers to the signer finds no mismatch.
DEFAULT_HOLDER: Final = CardHolder(
    name="山田 太郎", birth_date=dt.date(1990, 2, 15), address="埼玉県戸田市上戸田一丁目18番1号", gender="male"
)


class DevelopmentOnly(Exception):
    """Test cards and their CA exist only where test anchors are accepted."""


class IssuedCard(msgspec.Struct, frozen=True, kw_only=True):
    p12: Path
    password_file: Path
    holder: jpki.Holder
    ca_certificate: Path
    ca_created: bool
    anchor_added: bool
    crl_next_update: dt.datetime

    def summary(self) -> str:
        """What the person at the terminal needs: where the card and its password are, and who it says."""
        h = self.holder
        birth = f"{h.birth_date.isoformat()} ({h.birth_era})" if h.birth_date else "?"
        ca = "made now" if self.ca_created else "kept"
        anchor = "registered now as a test jpki anchor" if self.anchor_added else "already a test jpki anchor"
        until = f"{self.crl_next_update:%Y-%m-%d %H:%M}Z"
        return "\n".join(
            [
                f"test card:  {self.p12}",
                f"password:   {self.password_file}",
                f"holder:     {h.name} ({h.gender}), born {birth}, {h.address}",
                f"issuer:     {self.ca_certificate} ({ca}; {anchor}; CRL current until {until})",
                "accepted only by a server in development mode (SHINSEI_ENV=development, as `make run` sets)",
            ]
        )


def ca_directory(settings: Settings) -> Path:
    return Path(settings.data_dir) / "dev"


def make_card(settings: Settings, out: Path, holder: CardHolder, now: dt.datetime | None = None) -> IssuedCard:
    """Make (or reuse) the development CA, register it with a fresh CRL, and save a card issued by it."""
    if settings.env != "development":
        raise DevelopmentOnly(
            "dev card makes test cards, which only a development server accepts: "
            "set SHINSEI_ENV=development (make run does)"
        )
    now = now or dt.datetime.now(dt.UTC)
    ca, created = devca.load_or_create_ca(ca_directory(settings), now)
    crl = devca.issue_crl(ca, now)
    devca.save_crl(ca, crl)
    with database_url(settings) as dsn:
        added = asyncio.run(_register(dsn, settings, ca.certificate, crl, now))
    key, certificate = devca.issue_card(ca, holder, now)
    p12, password_file = devca.save_card(out, key, certificate, ca)
    # Read back from the certificate as the verifier will, so the summary shows what the card says.
    decoded = jpki.holder(asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER)))
    assert decoded is not None  # issue_card always writes the four items
    return IssuedCard(
        p12=p12,
        password_file=password_file,
        holder=decoded,
        ca_certificate=ca.path,
        ca_created=created,
        anchor_added=added,
        crl_next_update=crl.next_update_utc or now,
    )


def refresh_crl(settings: Settings, dsn: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """At a development server's start: a new CRL for the development CA, so its cards stay verifiable.

    None when there is no development CA, or this database does not have it as a test anchor (the CA
    is registered only by ``dev card``, never as a side effect of serving). Otherwise the new CRL's
    nextUpdate.
    """
    ca = devca.load_ca(ca_directory(settings))
    if settings.env != "development" or ca is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    crl = devca.issue_crl(ca, now)
    devca.save_crl(ca, crl)
    stored = asyncio.run(_refresh(dsn, ca.certificate, crl, now))
    return stored.next_update if stored is not None else None


async def _connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn


async def _register(
    dsn: str, settings: Settings, certificate: x509.Certificate, crl: x509.CertificateRevocationList, now: dt.datetime
) -> bool:
    conn = await _connect(dsn)
    try:
        # Migrated first, as serve does, so that dev card also works before the first `make run`.
        await migrate.upgrade(conn, migrate.discover(MIGRATIONS_DIR))
        async with conn.transaction():
            added, _ = await trust_service.register_development_ca(conn, *_asn1(certificate, crl), now)
        return added
    finally:
        await conn.close()


async def _refresh(
    dsn: str, certificate: x509.Certificate, crl: x509.CertificateRevocationList, now: dt.datetime
) -> CRLOut | None:
    conn = await _connect(dsn)
    try:
        async with conn.transaction():
            return await trust_service.refresh_development_crl(conn, *_asn1(certificate, crl), now)
    finally:
        await conn.close()


def _asn1(
    certificate: x509.Certificate, crl: x509.CertificateRevocationList
) -> tuple[asn1_x509.Certificate, asn1_crl.CertificateList]:
    """The trust store speaks asn1crypto; cryptography built them."""
    return (
        asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER)),
        asn1_crl.CertificateList.load(crl.public_bytes(Encoding.DER)),
    )
