"""Receipts: canonical JSON + CMS + PAdES PDF, each checkable offline against the agency root."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

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

from signing import devca, receipt_keys, receipt_pdf, receipts
from signing.fonts import Typeface
from tests import pki
from tests.pdf import embedded_fonts, page_text, unwrapped, word_boxes

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
def key(tmp_path_factory: pytest.TempPathFactory) -> receipt_keys.ReceiptKey:
    return devca.development_receipt_key(tmp_path_factory.mktemp("receipt-keys"))


def test_json_and_cms_round_trip(key: receipt_keys.ReceiptKey) -> None:
    data, signature = asyncio.run(receipts.sign_receipt(RECEIPT, key.signer))
    assert data == msgspec.json.Encoder(order="sorted").encode(RECEIPT)
    assert msgspec.json.decode(data, type=receipts.Receipt) == RECEIPT
    report = receipts.verify_receipt(data, signature, [key.chain[-1]])
    assert report.indication == "TOTAL_PASSED", report.checks
    assert devca.DEV_RECEIPT_NAME in (report.signer.subject if report.signer else "")
    forged = data.replace(b"MHLW-2026-000123", b"MHLW-2026-000124")
    assert receipts.verify_receipt(forged, signature, [key.chain[-1]]).sub_indication == "HASH_FAILURE"
    other_root = pki.cert("agency-root")
    assert receipts.verify_receipt(data, signature, [other_root]).sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"


def test_openssl_verifies_with_the_published_chain(key: receipt_keys.ReceiptKey, tmp_path: Path) -> None:
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


PRESENTATION = receipt_pdf.Presentation(
    agency_name="厚生労働省",
    procedure_name="時間外労働・休日労働に関する協定届",
    applicants=["山田 太郎"],
    statement_url="/api/v1/submissions/6f1c0d3e-7a55-4d0e-9a55-000000000123/receipt.json",
    chain_url="/api/v1/receipts/certificate",
)


def render(statement: receipts.Statement, key: receipt_keys.ReceiptKey, typeface: Typeface, **changes: Any) -> bytes:
    presentation = msgspec.structs.replace(PRESENTATION, **changes)
    return asyncio.run(receipt_pdf.render_pdf(statement, presentation, key.signer, typeface))


def validate(pdf: bytes, key: receipt_keys.ReceiptKey) -> None:
    reader = PdfFileReader(io.BytesIO(pdf))  # type: ignore[no-untyped-call]
    [embedded] = reader.embedded_signatures
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    context = ValidationContext(trust_roots=[key.chain[-1]], allow_fetching=False, revocation_mode="soft-fail")
    status = asyncio.run(async_validate_pdf_signature(embedded, signer_validation_context=context))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert embedded.sig_field["/Rect"] is not None  # the visible stamp


def test_pdf_receipt_speaks_to_a_person_and_validates(key: receipt_keys.ReceiptKey, typeface: Typeface) -> None:
    pdf = render(RECEIPT, key, typeface)
    assert pdf.startswith(b"%PDF")
    validate(pdf, key)
    text = unwrapped(page_text(pdf))
    for expected in (
        "受付票",
        "時間外労働・休日労働に関する協定届",  # the procedure by name, not "mhlw-36-agreement" alone
        "山田 太郎",
        "厚生労働省 (MHLW)",
        "MHLW-2026-000123",
        "2026年11月27日 12時00分 (JST)",
        "署名を確認しました / Signature verified",
        "ab" * 32,  # the signed document's digest
        "協定書.pdf",
        "cd" * 32,
        "/api/v1/submissions/6f1c0d3e-7a55-4d0e-9a55-000000000123/receipt.json",
        "/api/v1/submissions/6f1c0d3e-7a55-4d0e-9a55-000000000123/receipt.p7s",
        "/api/v1/receipts/certificate",
        "shinsei verify-receipt receipt.json receipt.p7s --trust chain.pem",
    ):
        assert expected in text, expected
    assert "試験用" not in text and "TEST" not in text


def test_a_receipt_filed_on_someones_behalf_names_both_parties(
    key: receipt_keys.ReceiptKey, typeface: Typeface
) -> None:
    by_a_professional = msgspec.structs.replace(
        RECEIPT, filed_by="Takahashi Ichiro", on_behalf_of="戸田工業株式会社", filed_by_profession="sharoushi"
    )
    data, _ = asyncio.run(receipts.sign_receipt(by_a_professional, key.signer))
    signed = msgspec.json.decode(data)
    assert (signed["filed_by"], signed["filed_by_profession"], signed["on_behalf_of"]) == (
        "Takahashi Ichiro",
        "sharoushi",
        "戸田工業株式会社",
    )
    pdf = render(by_a_professional, key, typeface, applicants=["Takahashi Ichiro"])
    validate(pdf, key)
    lines = [line.strip() for line in page_text(pdf).splitlines()]
    assert "申請者 Applicant: 戸田工業株式会社" in lines  # the principal applies
    assert "提出者 Filed by: Takahashi Ichiro（社会保険労務士）" in lines

    by_mandate = msgspec.structs.replace(RECEIPT, filed_by="鈴木 一郎", on_behalf_of="山田 太郎")
    data, _ = asyncio.run(receipts.sign_receipt(by_mandate, key.signer))
    assert "filed_by_profession" not in msgspec.json.decode(data)
    pdf = render(by_mandate, key, typeface, applicants=["鈴木 一郎"])
    lines = [line.strip() for line in page_text(pdf).splitlines()]
    assert "申請者 Applicant: 山田 太郎" in lines and "提出者 Filed by: 鈴木 一郎" in lines
    assert "提出者" not in unwrapped(page_text(render(RECEIPT, key, typeface)))  # one's own filing names one party


def test_the_font_is_noto_sans_jp_regular(key: receipt_keys.ReceiptKey, typeface: Typeface) -> None:
    fonts = embedded_fonts(render(RECEIPT, key, typeface))
    assert fonts, "the font is embedded"
    for font in fonts:  # the page's text and the signature stamp's
        assert font["name"].getDebugName(6).split("+")[-1] == "NotoSansJP-Regular"
        assert font["OS/2"].usWeightClass == 400  # not the variable font's default instance (Thin, 100)
        assert "fvar" not in font and "gvar" not in font


def test_a_pending_test_receipt_says_so(key: receipt_keys.ReceiptKey, typeface: Typeface) -> None:
    pending = msgspec.structs.replace(RECEIPT, verification="INDETERMINATE", test=True)
    pdf = render(pending, key, typeface)
    validate(pdf, key)
    text = unwrapped(page_text(pdf))
    assert "署名の確認中（失効情報の更新待ち） / Signature check pending (waiting for revocation data)" in text
    assert "試験用 / TEST" in text
    assert "署名を確認しました" not in text


def test_long_lines_wrap_inside_the_page_and_clear_the_stamp(key: receipt_keys.ReceiptKey, typeface: Typeface) -> None:
    """File names are the applicant's: a long one, with no place to break, still stays on the page."""
    names = [
        "令和8年度_時間外労働・休日労働に関する協定届_別紙その1_事業場ごとの労働者数と延長時間の一覧_最終版.pdf",
        "a-file-name-without-any-opportunity-to-break-it-into-lines-" + "x" * 60 + ".pdf",
    ]
    many = msgspec.structs.replace(
        RECEIPT,
        attachments=[
            receipts.AttachmentDigest(field=f"f{i}", filename=names[i % 2], sha256=f"{i:02x}" * 32) for i in range(12)
        ],
    )
    pdf = render(many, key, typeface, procedure_name="雇用保険被保険者資格取得届" * 6, applicants=["山田 太郎"] * 4)
    validate(pdf, key)
    stamp_left, _, _, stamp_top = receipt_pdf.STAMP_BOX
    words = word_boxes(pdf)
    assert len(words) > 40  # every line of the page (poppler takes a run of text without gaps as one word)
    for word, (left, bottom, right, _) in words:
        assert left >= receipt_pdf.MARGIN - 1 and right <= receipt_pdf.A4[2] - receipt_pdf.MARGIN + 1, word
        in_stamp = left >= stamp_left - 1 and bottom <= stamp_top  # the stamp's own words
        assert in_stamp or bottom >= stamp_top, f"{word!r} at {left, bottom} runs into the stamp"
    text = unwrapped(page_text(pdf))
    assert "0b" * 32 in text and names[1] in text
    assert "…（以下省略" not in text  # twelve files fit, at a smaller size


def test_decision_notice_names_the_procedure(key: receipt_keys.ReceiptKey, typeface: Typeface) -> None:
    notice = receipts.DecisionNotice(
        notice_number="MHLW-D-2026-000001",
        submission_id=RECEIPT.submission_id,
        agency="MHLW",
        form_id=RECEIPT.form_id,
        form_version=1,
        revision=1,
        receipt_number=RECEIPT.receipt_number,
        document_sha256="ab" * 32,
        decision="approved",
        message="協定の内容を確認しました。",
        decided_at=dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC),
    )
    url = "/api/v1/submissions/6f1c0d3e-7a55-4d0e-9a55-000000000123/decision-notice.json"
    pdf = render(notice, key, typeface, statement_url=url)
    validate(pdf, key)
    text = unwrapped(page_text(pdf))
    for expected in (
        "決定通知書",
        "時間外労働・休日労働に関する協定届",
        "山田 太郎",
        "承認 Approved",
        "協定の内容を確認しました。",
        url,
        "shinsei verify-receipt decision-notice.json decision-notice.p7s --trust chain.pem",
    ):
        assert expected in text, expected
    assert "試験用" not in text
    # A notice says nothing of test signatures itself: the service tells from the signatures' reports.
    assert "試験用 / TEST" in unwrapped(page_text(render(notice, key, typeface, statement_url=url, test=True)))


def test_timestamped_receipt(key: receipt_keys.ReceiptKey) -> None:
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
    key = receipt_keys.receipt_key_from_p12(bundle, b"test-only")
    assert [c.subject for c in key.chain] == [pki.cert("agency-receipt").subject, pki.cert("agency-root").subject]
    assert key.development is False
    data, signature = asyncio.run(receipts.sign_receipt(RECEIPT, key.signer))
    assert receipts.verify_receipt(data, signature, [pki.cert("agency-root")]).passed
    assert pem.detect(key.chain_pem())


@pytest.mark.parametrize(("algorithm", "key_type"), [("ecdsa-p256", "ec"), ("rsa-2048", "rsa")])
def test_development_key_is_made_once(tmp_path: Path, algorithm: devca.ReceiptAlgorithm, key_type: str) -> None:
    first = devca.development_receipt_key(tmp_path, algorithm=algorithm)
    second = devca.development_receipt_key(tmp_path, algorithm="rsa-2048" if key_type == "ec" else "ecdsa-p256")
    assert first.chain[0].dump() == second.chain[0].dump()  # kept: the algorithm applies when it is made
    assert first.chain[0].public_key.algorithm == key_type
    assert first.development and devca.DEV_ROOT_NAME in first.chain[-1].subject.human_friendly
    assert (tmp_path / "receipt.key.pem").stat().st_mode & 0o077 == 0
    data, signature = asyncio.run(receipts.sign_receipt(RECEIPT, first.signer))
    assert receipts.verify_receipt(data, signature, [first.chain[-1]]).passed


def test_what_cannot_fit_gives_way_and_the_page_still_says_how_to_verify(
    key: receipt_keys.ReceiptKey, typeface: Typeface
) -> None:
    files = [
        receipts.AttachmentDigest(field=f"f{i}", filename=f"添付{i}.pdf", sha256=f"{i:02x}" * 32) for i in range(60)
    ]
    pdf = render(msgspec.structs.replace(RECEIPT, attachments=files), key, typeface)
    validate(pdf, key)
    text = unwrapped(page_text(pdf))
    shown = [f for f in files if f.filename in text and f.sha256 in text]
    assert files[: len(shown)] == shown and len(shown) > 10  # the first ones, each whole, at the smallest size
    left = len(files) - len(shown)
    assert f"…（ほか{left}件 / {left} more files in the signed JSON）" in text
    assert "shinsei verify-receipt receipt.json receipt.p7s --trust chain.pem" in text

    notice = receipts.DecisionNotice(
        notice_number="MHLW-D-2026-000002",
        submission_id=RECEIPT.submission_id,
        agency="MHLW",
        form_id=RECEIPT.form_id,
        form_version=1,
        revision=1,
        receipt_number=RECEIPT.receipt_number,
        document_sha256="ab" * 32,
        decision="rejected",
        message="協定の有効期間と労働者数を確認し、訂正した協定届を改めて提出してください。" * 100,  # 3,700 characters
        decided_at=dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC),
    )
    pdf = render(notice, key, typeface, statement_url="/api/v1/submissions/x/decision-notice.json")
    validate(pdf, key)
    text = unwrapped(page_text(pdf))
    assert "行省略 / " in text and "more lines in the signed JSON）" in text
    assert "ab" * 32 in text and "shinsei verify-receipt decision-notice.json" in text
    for word, (left_x, bottom, right, _) in word_boxes(pdf):
        assert left_x >= receipt_pdf.MARGIN - 1 and right <= receipt_pdf.A4[2] - receipt_pdf.MARGIN + 1, word
        assert bottom >= receipt_pdf.STAMP_BOX[3] or left_x >= receipt_pdf.STAMP_BOX[0] - 1, word
