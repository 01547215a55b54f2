"""Receipts (受付票): what the agency received, signed by the agency, checkable by anyone offline.

The receipt is canonical JSON (``signing.canonical``) with a detached CMS by the agency's receipt key,
optionally time-stamped (RFC 3161), and a one-page PDF signed as PAdES with a visible stamp. Japanese
text is set in Noto Sans JP, which the install brings (``justmytype-intl-cjk``): nothing is assumed of
the host's fonts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import io
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
from asn1crypto import keys, pem, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fontTools.ttLib import TTFont
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.stamp import TextStamp, TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing import canonical
from signing.client import KeptKeySigner, asign_detached
from signing.report import VerificationReport
from signing.timestamps import TimestampUnavailable
from signing.trust import Anchor, TrustStore
from signing.verify import Bounds, Policy, Verifier

A4: Final = (0, 0, 595, 842)
DEV_ROOT_NAME: Final = "shinsei development agency root (NOT FOR PRODUCTION)"
DEV_RECEIPT_NAME: Final = "shinsei development receipt signer (NOT FOR PRODUCTION)"
RECEIPT_POLICY: Final = Policy(classes=frozenset({"accredited"}), check_revocation=False)


class AttachmentDigest(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    filename: str
    sha256: str


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    receipt_number: str
    submission_id: str
    agency: str
    form_id: str
    form_version: int
    document_sha256: str
    attachments: list[AttachmentDigest]
    signatures_sha256: list[str]
    """SHA-256 of each applicant CMS, in the order received."""
    received_at: dt.datetime
    verification: str
    """The verification indication at receipt (TOTAL_PASSED, or INDETERMINATE while pending)."""
    test: bool = False
    """Signed with a test certificate (試験用): never evidence of a real application."""
    filed_by: str | msgspec.UnsetType = msgspec.UNSET
    """Filed on someone's behalf: the agent who signed the application (left out otherwise, so an
    applicant's own receipt is unchanged)."""
    on_behalf_of: str | msgspec.UnsetType = msgspec.UNSET
    """...and the principal (the mandate's signer, or the client a professional's statement names)."""


class DecisionNotice(msgspec.Struct, frozen=True, kw_only=True):
    """The agency's decision on an application (許可・不許可の通知), signed like a receipt."""

    kind: Literal["decision_notice"] = "decision_notice"
    notice_number: str
    submission_id: str
    agency: str
    form_id: str
    form_version: int
    revision: int
    receipt_number: str
    """The receipt of the revision decided on."""
    document_sha256: str
    decision: Literal["approved", "rejected"]
    message: str
    decided_at: dt.datetime


Statement = Receipt | DecisionNotice


def font_file() -> str:
    """Noto Sans JP, from the installed package (SIL Open Font License)."""
    return str(resources.files("justmytype_intl_cjk") / "fonts" / "ofl" / "notosansjp" / "NotoSansJP[wght].ttf")


@functools.cache
def _font_bytes(path: str) -> bytes:
    """The font as the PDFs embed it: without layout and variation tables, prepared once per process.

    pyHanko subsets the font for every PDF, and fontTools decompiles every table it keeps to do so:
    with GSUB/GPOS (thousands of lookups for vertical and proportional forms we never use) and the
    variation tables, one receipt took 1.4 s of CPU; without them 0.7 s. Dropping the variation
    tables keeps the default instance's outlines, which is what the PDF showed before.
    """
    font = TTFont(path)
    for tag in ("GSUB", "GPOS", "BASE", "GDEF", "gvar", "HVAR", "MVAR", "STAT", "avar", "fvar"):
        if tag in font:
            del font[tag]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


@dataclasses.dataclass(frozen=True)
class JapaneseFont(GlyphAccumulatorFactory):
    """pyHanko's factory, fed from memory: its own opens the font file and never closes it."""

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=io.BytesIO(_font_bytes(self.font_file)),
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )


def receipt_bytes(receipt: Statement) -> bytes:
    return canonical.encode(receipt)


async def sign_receipt(
    receipt: Statement, signer: signers.Signer, timestamper: TimeStamper | None = None
) -> tuple[bytes, bytes]:
    """(canonical JSON, detached CMS over it), for a receipt or a decision notice alike."""
    data = receipt_bytes(receipt)
    if timestamper is None and isinstance(signer, KeptKeySigner):
        return data, signer.detached_cms(data)
    if timestamper is None:
        return data, await asign_detached(data, signer)
    try:
        # pyHanko adds the RFC 3161 token over the signature as CAdES' signature-time-stamp attribute.
        content = await signer.async_sign_general_data(data, "sha256", detached=True, timestamper=timestamper)
    except (TimestampRequestError, OSError) as exc:
        raise TimestampUnavailable(str(exc) or type(exc).__name__) from None
    return data, bytes(content.dump())


def _lines(receipt: Receipt, agency_name: str) -> str:
    received = receipt.received_at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    lines = [
        "受付票 / Receipt",
        "",
        f"受付番号 Receipt number: {receipt.receipt_number}",
        f"受付日時 Received at: {received:%Y年%m月%d日 %H時%M分} (JST)",
        f"提出先 Agency: {agency_name} ({receipt.agency})",
        f"様式 Form: {receipt.form_id} 第{receipt.form_version}版",
        f"申請番号 Submission: {receipt.submission_id}",
        f"署名の検証 Signature: {receipt.verification}",
        "",
        "申請書 Document SHA-256:",
        f"  {receipt.document_sha256}",
    ]
    for attachment in receipt.attachments:
        lines += [f"添付 {attachment.field}: {attachment.filename}", f"  {attachment.sha256}"]
    lines += ["", "この受付票は電子署名されています。This receipt is digitally signed by the agency."]
    return "\n".join(lines)


def _notice_lines(notice: DecisionNotice, agency_name: str) -> str:
    decided = notice.decided_at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    verdict = {"approved": "承認 Approved", "rejected": "却下 Rejected"}[notice.decision]
    lines = [
        "決定通知書 / Decision notice",
        "",
        f"通知番号 Notice number: {notice.notice_number}",
        f"決定日時 Decided at: {decided:%Y年%m月%d日 %H時%M分} (JST)",
        f"決定 Decision: {verdict}",
        f"行政機関 Agency: {agency_name} ({notice.agency})",
        f"様式 Form: {notice.form_id} 第{notice.form_version}版",
        f"申請番号 Submission: {notice.submission_id}",
        f"受付番号 Receipt number: {notice.receipt_number} (第{notice.revision}版)",
        "",
        "申請書 Document SHA-256:",
        f"  {notice.document_sha256}",
        "",
        "理由・付記 Message:",
        *textwrap.wrap(notice.message, 40),
        "",
        "この通知書は電子署名されています。This notice is digitally signed by the agency.",
    ]
    return "\n".join(lines)


async def render_pdf(receipt: Statement, agency_name: str, signer: signers.Signer) -> bytes:
    """The one-page 受付票 or 決定通知書, signed as PAdES with a visible stamp.

    Rendering is CPU work of most of a second (font subsetting): with a key held in memory it runs in
    a worker thread so the event loop keeps serving other requests meanwhile. A PKCS#11 session must
    not be used from two threads at once, so an HSM-held key renders on the loop's own thread.
    """
    if isinstance(signer, KeptKeySigner):
        return await asyncio.to_thread(_render_pdf, receipt, agency_name, signer)
    writer, pdf_signer = await asyncio.to_thread(_prepare_pdf, receipt, agency_name, signer)
    out = io.BytesIO()
    await pdf_signer.async_sign_pdf(writer, output=out, appearance_text_params={"agency": agency_name})
    return out.getvalue()


def _render_pdf(receipt: Statement, agency_name: str, signer: signers.Signer) -> bytes:
    writer, pdf_signer = _prepare_pdf(receipt, agency_name, signer)
    out = io.BytesIO()
    pdf_signer.sign_pdf(writer, output=out, appearance_text_params={"agency": agency_name})
    return out.getvalue()


def _prepare_pdf(
    receipt: Statement, agency_name: str, signer: signers.Signer
) -> tuple[PdfFileWriter, signers.PdfSigner]:
    if isinstance(receipt, DecisionNotice):
        text, field, seal = _notice_lines(receipt, agency_name), "Decision", "決定印"
    else:
        text, field, seal = _lines(receipt, agency_name), "Receipt", "受付印"
    writer = PdfFileWriter()  # type: ignore[no-untyped-call]
    blank = writer.add_object(generic.StreamObject(stream_data=b""))
    writer.insert_page(PageObject(contents=blank, media_box=A4))  # type: ignore[no-untyped-call]
    body = TextStampStyle(
        stamp_text="%(body)s",
        text_box_style=TextBoxStyle(font=JapaneseFont(font_file(), font_size=11), leading=17),
        border_width=0,
        background=None,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MAX
        ),
    )
    TextStamp(
        writer,
        body,
        text_params={"body": text},
        box=layout.BoxConstraints(width=515, height=520),
    ).apply(0, 40, 260)
    stamp = TextStampStyle(
        stamp_text=seal + "\n%(agency)s\n%(ts)s",
        text_box_style=TextBoxStyle(font=JapaneseFont(font_file(), font_size=9)),
        border_width=2,
        timestamp_format="%Y-%m-%d %H:%M:%S %Z",
    )
    pdf_signer = signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"),
        signer=signer,
        stamp_style=stamp,
        new_field_spec=fields.SigFieldSpec(sig_field_name=field, on_page=0, box=(380, 60, 555, 160)),
    )
    return writer, pdf_signer


def verify_receipt(
    data: bytes, signature: bytes, agency_roots: list[x509.Certificate], at: dt.datetime | None = None
) -> VerificationReport:
    """Check a receipt offline against the agency's root: integrity, signature, chain, validity.

    Revocation is not required: an agency publishes no CRL for its receipt key in this design
    (the root is pinned by whoever checks), so requiring one would make every receipt TRY_LATER.
    """
    store = TrustStore([Anchor(certificate=root, certificate_class="accredited") for root in agency_roots])
    return Verifier(store).verify(
        data, signature, RECEIPT_POLICY, Bounds(validation_time=at or dt.datetime.now(dt.UTC))
    )


class ReceiptKey(msgspec.Struct, frozen=True, kw_only=True):
    """The agency's receipt signer and the chain that proves it (receipt certificate first, root last)."""

    signer: signers.Signer
    chain: list[x509.Certificate]
    development: bool

    def chain_pem(self) -> bytes:
        return b"".join(pem.armor("CERTIFICATE", c.dump()) for c in self.chain)


def receipt_key_from_p12(data: bytes, password: bytes | None) -> ReceiptKey:
    signer = KeptKeySigner.load_pkcs12_data(data, other_certs=[], passphrase=password)
    chain = [signer.signing_cert, *[c for c in signer.cert_registry if c != signer.signing_cert]]
    return ReceiptKey(signer=signer, chain=chain, development=False)


def receipt_key_from_pkcs11(
    module: str, token: str, key_label: str, pin: str, chain: list[x509.Certificate]
) -> tuple[ReceiptKey, Any]:
    """A receipt signer on an HSM; returns the key and the session to close at shutdown."""
    session = open_pkcs11_session(module, token_criteria=TokenCriteria(label=token), user_pin=pin)
    signer = PKCS11Signer(session, key_label=key_label, cert_label=key_label, ca_chain=chain)
    certificate = signer.signing_cert
    return ReceiptKey(signer=signer, chain=[certificate, *chain], development=False), session


def _name(common_name: str) -> cx509.Name:
    return cx509.Name(
        [
            cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "shinsei development"),
            cx509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(
    subject: str, key: rsa.RSAPrivateKey, issuer: str, issuer_key: rsa.RSAPrivateKey, *, ca: bool, now: dt.datetime
) -> cx509.Certificate:
    builder = (
        cx509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650 if ca else 1825))
        .add_extension(cx509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(cx509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(cx509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .add_extension(
            cx509.KeyUsage(
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


def development_receipt_key(directory: Path, now: dt.datetime | None = None) -> ReceiptKey:
    """A development agency root and a receipt key issued by it, made once and kept in ``directory``.

    For ``make run`` and tests only: the names say NOT FOR PRODUCTION, and the server logs that it is
    using them. Production configures a PKCS#12 (or a PKCS#11 token) instead.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key_file, cert_file, root_file = (
        directory / "receipt.key.pem",
        directory / "receipt.pem",
        directory / "agency-root.pem",
    )
    if not key_file.exists():
        now = now or dt.datetime.now(dt.UTC)
        root_key = rsa.generate_private_key(65537, 3072)
        receipt_key = rsa.generate_private_key(65537, 2048)
        root = _issue(DEV_ROOT_NAME, root_key, DEV_ROOT_NAME, root_key, ca=True, now=now)
        receipt = _issue(DEV_RECEIPT_NAME, receipt_key, DEV_ROOT_NAME, root_key, ca=False, now=now)
        root_file.write_bytes(root.public_bytes(serialization.Encoding.PEM))
        cert_file.write_bytes(receipt.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            receipt_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_file.chmod(0o600)
        # The root's private key is not kept: nothing else is ever issued by it.
    receipt_cert = x509.Certificate.load(pem.unarmor(cert_file.read_bytes())[2])
    root_cert = x509.Certificate.load(pem.unarmor(root_file.read_bytes())[2])
    private = keys.PrivateKeyInfo.load(pem.unarmor(key_file.read_bytes())[2])
    signer = KeptKeySigner(
        signing_cert=receipt_cert,
        signing_key=private,
        cert_registry=SimpleCertificateStore.from_certs([root_cert]),  # type: ignore[no-untyped-call]
    )
    return ReceiptKey(signer=signer, chain=[receipt_cert, root_cert], development=True)
