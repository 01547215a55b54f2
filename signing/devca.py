"""The development CAs, never for production: J-LIS-like for test cards, an agency root for receipts.

The first issues the test cards of ``shinsei dev card``; the second, the development receipt key.

Each is made once and kept in a directory of local state. Every name the card CA puts in a certificate
says TEST, and its cards carry the J-LIS *test* signing policy, so a verifier that does not accept
test anchors refuses them even if the CA were trusted by mistake. The agency root's names say NOT FOR
PRODUCTION, and the server logs that it uses them.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Final, Literal

import msgspec
from asn1crypto import keys as asn1_keys
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing import jpki
from signing.client import KeptKeySigner
from signing.receipt_keys import ReceiptKey

CA_NAME: Final = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "shinsei development (TEST ONLY, not J-LIS)"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for digital signature (test)"),
        x509.NameAttribute(NameOID.COMMON_NAME, "shinsei development JPKI CA - TEST, NOT FOR PRODUCTION"),
    ]
)
CA_KEY_FILE: Final = "jpki-ca.key.pem"
CA_CERT_FILE: Final = "jpki-ca.pem"
#: The latest CRL, beside the certificate, for offline checks (``shinsei verify --crl``, OpenSSL).
CA_CRL_FILE: Final = "jpki-ca.crl.pem"
#: A CRL is issued on every run and at every development server start; a week covers a long pause.
CRL_LIFETIME: Final = dt.timedelta(days=7)
CARD_LIFETIME: Final = dt.timedelta(days=365)
#: Certificates start a little in the past so that a clock slightly behind (another process, a
#: container) does not see them as not yet valid.
CLOCK_SKEW: Final = dt.timedelta(minutes=5)


class CardHolder(msgspec.Struct, frozen=True, kw_only=True):
    """The four basic items to put on a test card."""

    name: str
    birth_date: dt.date
    address: str
    gender: Literal["male", "female", "unknown"] = "unknown"


class DevelopmentCA(msgspec.Struct, frozen=True):
    """The CA's key and self-signed certificate, as kept on disk."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    path: Path
    """The certificate's PEM file, for ``--trust`` on the command line."""


def _write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Written by a rename so that a reader never sees half a file; a secret is never readable by others."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)  # a leftover partial file from a killed run keeps its old mode otherwise
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    partial.replace(path)


def load_ca(directory: Path) -> DevelopmentCA | None:
    """The CA kept in ``directory``, or None when none has been made there."""
    key_file, cert_file = directory / CA_KEY_FILE, directory / CA_CERT_FILE
    if not (key_file.exists() and cert_file.exists()):
        return None
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{key_file} is not an RSA key")
    return DevelopmentCA(key, x509.load_pem_x509_certificate(cert_file.read_bytes()), cert_file)


def load_or_create_ca(directory: Path, now: dt.datetime) -> tuple[DevelopmentCA, bool]:
    """The CA in ``directory``, made there first if absent; True when it was just made.

    Its key is kept (unlike the development receipt root's) because it signs a CRL on every run.
    """
    if (existing := load_ca(directory)) is not None:
        return existing, False
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = rsa.generate_private_key(65537, 2048)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(CA_NAME)
        .issuer_name(CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    # The key first, the certificate last: load_ca needs both, so a run killed in between makes anew.
    _write(
        directory / CA_KEY_FILE,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    _write(directory / CA_CERT_FILE, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return DevelopmentCA(key, certificate, directory / CA_CERT_FILE), True


def issue_crl(ca: DevelopmentCA, now: dt.datetime) -> x509.CertificateRevocationList:
    """An empty CRL, current from ``now`` for ``CRL_LIFETIME`` (test cards are never revoked)."""
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now)
        .next_update(now + CRL_LIFETIME)
        # CRL numbers must grow; milliseconds since the epoch do, without keeping a counter on disk.
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(_authority_key(ca), critical=False)
        .sign(ca.key, hashes.SHA256())
    )


def save_crl(ca: DevelopmentCA, crl: x509.CertificateRevocationList) -> Path:
    path = ca.path.with_name(CA_CRL_FILE)
    _write(path, crl.public_bytes(serialization.Encoding.PEM), 0o644)
    return path


def issue_card(ca: DevelopmentCA, holder: CardHolder, now: dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A signing certificate with the JPKI profile (test policy) and the holder's four basic items."""
    key = rsa.generate_private_key(65537, 2048)
    items = {
        "name": holder.name,
        "gender": jpki.GENDER_CODES[holder.gender],
        "birth": jpki.encode_birth(holder.birth_date),
        "address": holder.address,
    }
    serial = x509.random_serial_number()
    certificate = (
        x509.CertificateBuilder()
        # Like J-LIS, the subject names no person: the items live in subjectAltName.
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "shinsei development (TEST ONLY)"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"test card {serial:x}"[:64]),
                ]
            )
        )
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + CARD_LIFETIME, ca.certificate.not_valid_after_utc))
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(jpki.TEST_SIGNING_POLICY), None)]),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.OtherName(x509.ObjectIdentifier(oid), value) for oid, value in jpki.other_names(items)]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key(ca), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return key, certificate


def card_p12(key: rsa.RSAPrivateKey, certificate: x509.Certificate, ca: DevelopmentCA, password: bytes) -> bytes:
    """The card as a PKCS#12 that ``shinsei sign``/``submit --p12`` read (the CA included, as a chain)."""
    return pkcs12.serialize_key_and_certificates(
        b"shinsei test card", key, certificate, [ca.certificate], serialization.BestAvailableEncryption(password)
    )


def save_card(
    directory: Path, key: rsa.RSAPrivateKey, certificate: x509.Certificate, ca: DevelopmentCA
) -> tuple[Path, Path]:
    """``card.p12`` under a random password, and that password in ``card.p12.password`` (mode 0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    p12, password_file = directory / "card.p12", directory / "card.p12.password"
    _write(password_file, password.encode() + b"\n")
    _write(p12, card_p12(key, certificate, ca, password.encode()))
    return p12, password_file


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,  # nonRepudiation: what the verifier requires of a signer
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key(ca: DevelopmentCA) -> x509.AuthorityKeyIdentifier:
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


# --- the development agency root and receipt key ---------------------------------------------

DEV_ROOT_NAME: Final = "shinsei development agency root (NOT FOR PRODUCTION)"
DEV_RECEIPT_NAME: Final = "shinsei development receipt signer (NOT FOR PRODUCTION)"


def _agency_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "shinsei development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue_agency(
    subject: str,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    now: dt.datetime,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_agency_name(subject))
        .issuer_name(_agency_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650 if ca else 1825))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


ReceiptAlgorithm = Literal["ecdsa-p256", "rsa-2048"]


def development_receipt_key(
    directory: Path, now: dt.datetime | None = None, algorithm: ReceiptAlgorithm = "ecdsa-p256"
) -> ReceiptKey:
    """A development agency root and a receipt key issued by it, made once and kept in ``directory``.

    For ``make run`` and tests only: the names say NOT FOR PRODUCTION, and the server logs that it is
    using them. Production configures a PKCS#12 (or a PKCS#11 token) instead, RSA or ECDSA alike.
    ECDSA P-256 by default: intake signs a receipt per submission, and a P-256 signature costs about a
    fifth of an RSA-2048 one (bench/ingest.py); ``algorithm`` applies only when the key is made.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key_file, cert_file, root_file = (
        directory / "receipt.key.pem",
        directory / "receipt.pem",
        directory / "agency-root.pem",
    )
    if not key_file.exists():
        now = now or dt.datetime.now(dt.UTC)
        root_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        receipt_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if algorithm == "ecdsa-p256":
            root_key, receipt_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        else:
            root_key, receipt_key = rsa.generate_private_key(65537, 3072), rsa.generate_private_key(65537, 2048)
        root = _issue_agency(DEV_ROOT_NAME, root_key, DEV_ROOT_NAME, root_key, ca=True, now=now)
        receipt = _issue_agency(DEV_RECEIPT_NAME, receipt_key, DEV_ROOT_NAME, root_key, ca=False, now=now)
        root_file.write_bytes(root.public_bytes(serialization.Encoding.PEM))
        cert_file.write_bytes(receipt.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            receipt_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_file.chmod(0o600)
        # The root's private key is not kept: nothing else is ever issued by it.
    receipt_cert = asn1_x509.Certificate.load(pem.unarmor(cert_file.read_bytes())[2])
    root_cert = asn1_x509.Certificate.load(pem.unarmor(root_file.read_bytes())[2])
    private = asn1_keys.PrivateKeyInfo.load(pem.unarmor(key_file.read_bytes())[2])
    signer = KeptKeySigner(
        signing_cert=receipt_cert,
        signing_key=private,
        cert_registry=SimpleCertificateStore.from_certs([root_cert]),  # type: ignore[no-untyped-call]  # unannotated in pyhanko-certvalidator
    )
    return ReceiptKey(signer=signer, chain=[receipt_cert, root_cert], development=True)
