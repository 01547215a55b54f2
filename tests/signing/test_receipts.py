"""Receipts: canonical JSON + CMS + PAdES PDF, each checkable offline against the agency root."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from asn1crypto import cms, pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import load_der_x509_certificate
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from signing import receipts
from tests import pki

RECEIPT = receipts.Receipt(
    receipt_number="MHLW-2026-000123",
    submission_id="6f1c0d3e-7a55-4d0e-9a55-000000000123",
    agency="MHLW",
    form_id="mhlw-36-agreement",
    form_version=1,
    document_sha256="ab" * 32,
    attachments=[receipts.AttachmentDigest(field="agreement_pdf", filename="協定書.pdf", sha256="cd" * 32)],
    signatures_sha256=["ef" * 32],
    received_at=dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC),
    verification="TOTAL_PASSED",
)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> receipts.ReceiptKey:
    return receipts.development_receipt_key(tmp_path_factory.mktemp("receipt-keys"))


def test_json_and_cms_round_trip(key: receipts.ReceiptKey) -> None:
    data, signature = asyncio.run(receipts.sign_receipt(RECEIPT, key.signer))
    assert data == msgspec.json.Encoder(order="sorted").encode(RECEIPT)
    assert msgspec.json.decode(data, type=receipts.Receipt) == RECEIPT
    report = receipts.verify_receipt(data, signature, [key.chain[-1]])
    assert report.indication == "TOTAL_PASSED", report.checks
    assert receipts.DEV_RECEIPT_NAME in (report.signer.subject if report.signer else "")
    forged = data.replace(b"MHLW-2026-000123", b"MHLW-2026-000124")
    assert receipts.verify_receipt(forged, signature, [key.chain[-1]]).sub_indication == "HASH_FAILURE"
    other_root = pki.cert("agency-root")
    assert receipts.verify_receipt(data, signature, [other_root]).sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"


def test_openssl_verifies_with_the_published_chain(key: receipts.ReceiptKey, tmp_path: Path) -> None:
    data, signature = asyncio.run(receipts.sign_receipt(RECEIPT, key.signer))
    (tmp_path / "receipt.json").write_bytes(data)
    (tmp_path / "receipt.p7s").write_bytes(signature)
    (tmp_path / "chain.pem").write_bytes(key.chain_pem())
    assert key.chain_pem().count(b"BEGIN CERTIFICATE") == 2
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "receipt.p7s"),
         "-content", str(tmp_path / "receipt.json"), "-CAfile", str(tmp_path / "chain.pem"), "-purpose", "any",
         "-out", "/dev/null"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    command = [sys.executable, "-m", "service", "verify-receipt", str(tmp_path / "receipt.json")]
    command += [str(tmp_path / "receipt.p7s"), "--trust", str(tmp_path / "chain.pem")]
    cli = subprocess.run(command, capture_output=True, text=True, check=False)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert '"receipt_number": "MHLW-2026-000123"' in cli.stdout


def test_pdf_receipt_is_pades_and_validates(key: receipts.ReceiptKey) -> None:
    pdf = asyncio.run(receipts.render_pdf(RECEIPT, "厚生労働省", key.signer))
    assert pdf.startswith(b"%PDF")
    reader = PdfFileReader(io.BytesIO(pdf))  # type: ignore[no-untyped-call]
    assert any("NotoSansJP" in name for name in base_fonts(reader.root, depth=0))  # embedded, subset
    [embedded] = reader.embedded_signatures
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    context = ValidationContext(trust_roots=[key.chain[-1]], allow_fetching=False, revocation_mode="soft-fail")
    status = asyncio.run(async_validate_pdf_signature(embedded, signer_validation_context=context))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert embedded.sig_field["/Rect"] is not None  # the visible stamp


def base_fonts(node: object, depth: int) -> list[str]:
    """Every /BaseFont reachable from ``node`` (a few levels deep: catalog → pages → resources)."""
    if depth > 12:
        return []
    if hasattr(node, "get_object"):
        node = node.get_object()
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "/BaseFont":
                found.append(str(value))
            elif key not in ("/Parent", "/P"):
                found += base_fonts(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            found += base_fonts(item, depth + 1)
    return found


def test_timestamped_receipt(key: receipts.ReceiptKey) -> None:
    tsa = DummyTimeStamper(tsa_cert=pki.cert("tsa"), tsa_key=pki.private_key("tsa"))
    data, signature = asyncio.run(receipts.sign_receipt(RECEIPT, key.signer, timestamper=tsa))
    signer_info = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    unsigned = {a["type"].native for a in signer_info["unsigned_attrs"]}
    assert "signature_time_stamp_token" in unsigned
    assert receipts.verify_receipt(data, signature, [key.chain[-1]]).passed


def test_receipt_key_from_pkcs12() -> None:
    private = serialization.load_der_private_key(pki.private_key("agency-receipt").dump(), None)
    cert = load_der_x509_certificate(pki.cert("agency-receipt").dump())
    root = load_der_x509_certificate(pki.cert("agency-root").dump())
    bundle = pkcs12.serialize_key_and_certificates(
        b"receipt",
        private,
        cert,
        [root],
        serialization.BestAvailableEncryption(b"test-only"),  # type: ignore[arg-type]
    )
    key = receipts.receipt_key_from_p12(bundle, b"test-only")
    assert [c.subject for c in key.chain] == [pki.cert("agency-receipt").subject, pki.cert("agency-root").subject]
    assert key.development is False
    data, signature = asyncio.run(receipts.sign_receipt(RECEIPT, key.signer))
    assert receipts.verify_receipt(data, signature, [pki.cert("agency-root")]).passed
    assert pem.detect(key.chain_pem())


def test_development_key_is_made_once(tmp_path: Path) -> None:
    first = receipts.development_receipt_key(tmp_path)
    second = receipts.development_receipt_key(tmp_path)
    assert first.chain[0].dump() == second.chain[0].dump()
    assert first.development and receipts.DEV_ROOT_NAME in first.chain[-1].subject.human_friendly
    assert (tmp_path / "receipt.key.pem").stat().st_mode & 0o077 == 0
