"""Evidence bundles: one ZIP with everything needed to check an application offline, and its checker.

The writer takes the evidence as values (the service gathers it from the database); the checker
takes the ZIP and the roots the *checker* trusts. Nothing in the bundle is trusted by itself: the
chains and revocation data inside are material, the roots come from outside. Each signature is
judged again with the bounds it was judged with (validation time, signing-time bounds) and the
revocation data that was used then, so the offline verdict can be compared with the recorded one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from typing import Any, Final, Literal

import msgspec
from asn1crypto import cms, ocsp, pem, x509
from asn1crypto import crl as asn1_crl

from signing import canonical
from signing.jpki import CertificateClass
from signing.receipts import DecisionNotice, Receipt, verify_receipt
from signing.report import VerificationReport
from signing.timestamps import TimestampInvalid, signature_value, verify_token
from signing.trust import Anchor, TrustStore, fingerprint
from signing.verify import Bounds, Policy, Verifier

FORMAT: Final = "shinsei-evidence-bundle/1"
#: Every class a stored signature may have been judged by: a professional's (提出代行) included.
ALL_CLASSES: Final[frozenset[CertificateClass]] = frozenset(
    {"jpki", "corporate", "accredited", "sharoushi", "gyouseishoshi", "zeirishi", "shihoshoshi"}
)
#: The checker refuses archives that would unpack to more than this (a ZIP bomb is not evidence).
MAX_UNPACKED: Final = 1 << 30
MAX_MEMBERS: Final = 10_000


class SignatureEvidence(msgspec.Struct, frozen=True, kw_only=True):
    cms: bytes
    report: VerificationReport
    chain: list[x509.Certificate]
    """Signer first, the trust anchor last (as the server found it)."""
    anchor_class: CertificateClass | None
    anchor_test: bool
    crls: list[bytes]
    """DER of the CRLs the verdict used."""
    ocsp_responses: list[bytes]
    timestamp_token: bytes | None = None
    """CAdES-T: an RFC 3161 token over the signature value, taken at intake when a TSA is configured."""


class AttachmentEvidence(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    filename: str
    media_type: str
    content: bytes


class RevisionEvidence(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    document: bytes | None
    """The signed bytes; None when withheld (a 個人番号 the requester may not see, or one purged)."""
    signatures: list[SignatureEvidence]
    attachments: list[AttachmentEvidence]
    receipt_json: bytes
    receipt_cms: bytes
    receipt_pdf: bytes
    withheld: str | None = None
    """Why the document is not in the bundle, in words for its reader."""
    masked_answers: bytes | None = None
    """In place of a withheld document: its answers as JSON, each 個人番号 masked."""


class NoticeEvidence(msgspec.Struct, frozen=True, kw_only=True):
    json: bytes
    cms: bytes
    pdf: bytes


ProxyKind = Literal["mandate", "profession"]
#: The file a filing on someone's behalf keeps its document in: the mandate (委任状) or the statement (提出代行証明書).
PROXY_STEMS: Final[dict[str, str]] = {"mandate": "proxy/mandate", "profession": "proxy/statement"}


class ProxyEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """A filing on someone's behalf: the mandate the principal signed, or the statement the professional signed."""

    kind: ProxyKind
    document: bytes
    """The mandate or the statement, as signed."""
    signature: SignatureEvidence
    """Its signature: by the principal (a mandate) or by the professional (a statement)."""


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    submission_id: str
    agency: str
    status: str
    generated_at: dt.datetime
    revisions: list[RevisionEvidence]
    notice: NoticeEvidence | None
    agency_chain: list[x509.Certificate]
    """The receipt certificate first, the agency root last."""
    timeline: list[dict[str, Any]]
    proxy: ProxyEvidence | None = None


class SignatureEntry(msgspec.Struct, frozen=True, kw_only=True):
    file: str
    chain: str
    report: str
    anchor_sha256: str | None
    anchor_class: CertificateClass | None
    anchor_test: bool
    revocation: list[str]
    validation_time: dt.datetime
    signed_after: dt.datetime | None
    indication: str
    timestamp: str | None = None
    """The signature time-stamp token (DER), if any."""
    signature_value: str | None = None
    """The bytes that token covers: the SignerInfo's signature value."""


class RevisionEntry(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    document: str | None
    """None: withheld (``withheld`` says why); the signatures over it cannot be checked from this bundle."""
    receipt: str
    receipt_signature: str
    receipt_pdf: str
    signatures: list[SignatureEntry]
    attachments: dict[str, str]
    """Field path → file in the bundle."""
    withheld: str | None = None
    masked_answers: str | None = None


class ProxyEntry(msgspec.Struct, frozen=True, kw_only=True):
    kind: ProxyKind
    document: str
    signature: SignatureEntry


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    format: str
    submission_id: str
    agency: str
    status: str
    generated_at: dt.datetime
    revisions: list[RevisionEntry]
    notice: list[str] | None
    """The decision notice's JSON, CMS and PDF files."""
    files: dict[str, str]
    """Every other file → its SHA-256."""
    proxy: ProxyEntry | None = None
    """Filed on someone's behalf: the mandate or the professional's statement, and its signature."""


def _pem(kind: str, items: list[bytes]) -> bytes:
    return b"".join(pem.armor(kind, der) for der in items)


def _safe(name: str) -> str:
    """A file name that stays inside its folder on every system (the original name is in the receipt)."""
    cleaned = re.sub(r"[^\w.\-]+", "_", name, flags=re.UNICODE).strip("._")
    return cleaned[:100] or "file"


def _readme(manifest: Manifest) -> str:
    lines = [
        f"Evidence bundle of application {manifest.submission_id} ({manifest.agency})",
        f"Generated {manifest.generated_at.isoformat()}. Format {FORMAT}.",
        "",
        "Everything here can be checked without the server. Trust only roots you obtained yourself:",
        "the chain files end in the anchor the server used, for convenience, not as proof.",
        "Every file's SHA-256 is in manifest.json; receipt-*.json names the document, signatures and",
        "attachments by SHA-256, and the receipt is signed by the agency.",
        "",
        "1. Everything at once, offline:",
        f"   shinsei verify-bundle bundle.zip --trust YOUR-CA.pem --trust {manifest.agency}-ROOT.pem",
        "",
        "2. By hand, with OpenSSL 3.0 or later (each applicant signature over the exact document bytes,",
        "   at the time it was judged; where a CRL was used, it is appended to your CA file, which is where",
        "   `openssl cms -crl_check` reads CRLs from; an OCSP answer is checked by shinsei verify-bundle):",
    ]
    for revision in manifest.revisions:
        document_file = revision.document
        if document_file is None:
            lines += [
                f"   Revision {revision.number}: its signed document is withheld ({revision.withheld}).",
                f"   Its answers, each 個人番号 masked, are in {revision.masked_answers}; its signatures",
                "   cannot be checked from this bundle (the receipt still names the document's SHA-256).",
            ]
        for entry in revision.signatures if document_file is not None else ():
            assert document_file is not None
            lines += _openssl_verify(entry, document_file)
            if entry.timestamp and entry.signature_value:
                lines += [
                    "   Its time-stamp (CAdES-T), against the time-stamping authority's root:",
                    f"   openssl ts -verify -token_in -in {entry.timestamp} -data {entry.signature_value} \\",
                    "     -CAfile TSA-ROOT.pem",
                ]
        lines += [
            "   The receipt, against the agency's root:",
            f"   openssl cms -verify -binary -inform DER -in {revision.receipt_signature} \\",
            f"     -content {revision.receipt} \\",
            "     -certfile agency/receipt-chain.pem -CAfile AGENCY-ROOT.pem -purpose any -out /dev/null",
        ]
    if manifest.proxy is not None:
        lines += _proxy_readme(manifest.proxy)
    lines += [
        "",
        "3. With pyHanko (pip install pyhanko-cli): the PDFs, and a detached signature:",
    ]
    for revision in manifest.revisions:
        lines.append(
            "   pyhanko sign validate --no-revocation-check --trust AGENCY-ROOT.pem --trust-replace "
            + revision.receipt_pdf
        )
        for entry in revision.signatures if revision.document is not None else ():
            lines.append(
                f"   pyhanko sign validate --trust YOUR-CA.pem --trust-replace --no-revocation-check "
                f"--detached {entry.file} {revision.document}"
            )
    if manifest.notice:
        json_file, cms_file, pdf_file = manifest.notice
        lines += [
            "",
            "4. The decision notice:",
            f"   openssl cms -verify -binary -inform DER -in {cms_file} -content {json_file} \\",
            "     -certfile agency/receipt-chain.pem -CAfile AGENCY-ROOT.pem -purpose any -out /dev/null",
            f"   pyhanko sign validate --no-revocation-check --trust AGENCY-ROOT.pem --trust-replace {pdf_file}",
        ]
    return "\n".join(lines) + "\n"


def _openssl_verify(entry: SignatureEntry, content: str, ca: str = "YOUR-CA.pem") -> list[str]:
    """The OpenSSL commands that check one detached signature over ``content`` at the time it was judged."""
    at = int(entry.validation_time.timestamp())
    crls = [p for p in entry.revocation if p.endswith(".crl.pem")]
    lines = []
    if crls:
        combined = entry.file.removesuffix(".p7s") + ".ca-and-crl.pem"
        lines.append(f"   cat {ca} {' '.join(crls)} > {combined}")
        ca = combined
    return [
        *lines,
        f"   openssl cms -verify -binary -inform DER -in {entry.file} -content {content} \\",
        f"     -certfile {entry.chain} -CAfile {ca} -purpose any -attime {at}"
        + (" -crl_check" if crls else "")
        + " -out /dev/null",
    ]


def _proxy_readme(proxy: ProxyEntry) -> list[str]:
    if proxy.kind == "mandate":
        head = [
            "",
            "   Filed on someone's behalf with a mandate (委任状): the principal signed "
            f"{proxy.document} (who may file",
            "   which procedures, until when), and the agent signed the application. The mandate's",
            "   signature, against the root of the principal's certificate (J-LIS or the corporate CA):",
        ]
        ca = "YOUR-CA.pem"
    else:
        head = [
            "",
            f"   Filed by a licensed professional (提出代行): the professional signed the statement {proxy.document}",
            "   with the certificate that signed the application. Its signature, against the root of the",
            "   professional association's CA:",
        ]
        ca = "PROFESSION-ROOT.pem"
    return head + _openssl_verify(proxy.signature, proxy.document, ca)


def _signature_files(stem: str, signature: SignatureEvidence, files: dict[str, bytes]) -> SignatureEntry:
    """One signature's files under ``stem`` (CMS, chain, report, revocation data, time-stamp), and its entry."""
    files[f"{stem}.p7s"] = signature.cms
    files[f"{stem}.chain.pem"] = _pem("CERTIFICATE", [c.dump() for c in signature.chain])
    files[f"{stem}.report.json"] = msgspec.json.format(msgspec.json.encode(signature.report), indent=2)
    revocation = []
    for n, der in enumerate(signature.crls, start=1):
        revocation.append(f"{stem}.revocation/crl-{n}.crl.pem")
        files[revocation[-1]] = _pem("X509 CRL", [der])
    for n, der in enumerate(signature.ocsp_responses, start=1):
        revocation.append(f"{stem}.revocation/ocsp-{n}.der")
        files[revocation[-1]] = der
    stamp = value = None
    if signature.timestamp_token is not None:
        stamp, value = f"{stem}.tst", f"{stem}.signature-value.bin"
        files[stamp] = signature.timestamp_token
        files[value] = signature_value(signature.cms)
    return SignatureEntry(
        file=f"{stem}.p7s", chain=f"{stem}.chain.pem", report=f"{stem}.report.json",
        anchor_sha256=fingerprint(signature.chain[-1]) if signature.anchor_class else None,
        anchor_class=signature.anchor_class, anchor_test=signature.anchor_test, revocation=revocation,
        validation_time=signature.report.validation_time, signed_after=signature.report.signed_after,
        indication=signature.report.indication, timestamp=stamp, signature_value=value,
    )  # fmt: skip


def write(evidence: Evidence) -> bytes:
    """The ZIP: files, manifest.json (with every file's SHA-256) and README.txt."""
    files: dict[str, bytes] = {}
    revisions = []
    for revision in evidence.revisions:
        base = f"revision-{revision.number}"
        document = masked = None
        if revision.document is not None:
            document = f"{base}/document.json"
            files[document] = revision.document
        elif revision.masked_answers is not None:
            masked = f"{base}/answers.masked.json"
            files[masked] = revision.masked_answers
        files[f"{base}/receipt-{revision.number}.json"] = revision.receipt_json
        files[f"{base}/receipt-{revision.number}.p7s"] = revision.receipt_cms
        files[f"{base}/receipt-{revision.number}.pdf"] = revision.receipt_pdf
        entries = [
            _signature_files(f"{base}/signature-{index}", signature, files)
            for index, signature in enumerate(revision.signatures, start=1)
        ]
        attachments = {}
        for attachment in revision.attachments:
            path = f"{base}/attachments/{_safe(attachment.field)}--{_safe(attachment.filename)}"
            files[path] = attachment.content
            attachments[attachment.field] = path
        revisions.append(
            RevisionEntry(
                number=revision.number, document=document, withheld=revision.withheld, masked_answers=masked,
                receipt=f"{base}/receipt-{revision.number}.json",
                receipt_signature=f"{base}/receipt-{revision.number}.p7s",
                receipt_pdf=f"{base}/receipt-{revision.number}.pdf", signatures=entries, attachments=attachments,
            )
        )  # fmt: skip
    notice = None
    if evidence.notice is not None:
        notice = ["decision-notice.json", "decision-notice.p7s", "decision-notice.pdf"]
        files.update(zip(notice, (evidence.notice.json, evidence.notice.cms, evidence.notice.pdf), strict=True))
    proxy = None
    if evidence.proxy is not None:
        stem = PROXY_STEMS[evidence.proxy.kind]
        files[f"{stem}.json"] = evidence.proxy.document
        proxy = ProxyEntry(
            kind=evidence.proxy.kind,
            document=f"{stem}.json",
            signature=_signature_files(stem, evidence.proxy.signature, files),
        )
    files["agency/receipt-chain.pem"] = _pem("CERTIFICATE", [c.dump() for c in evidence.agency_chain])
    files["timeline.json"] = msgspec.json.format(msgspec.json.encode(evidence.timeline), indent=2)
    manifest = Manifest(
        format=FORMAT, submission_id=evidence.submission_id, agency=evidence.agency, status=evidence.status,
        generated_at=evidence.generated_at, revisions=revisions, notice=notice, proxy=proxy,
        files={path: hashlib.sha256(content).hexdigest() for path, content in sorted(files.items())},
    )  # fmt: skip
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _readme(manifest))
        archive.writestr("manifest.json", msgspec.json.format(msgspec.json.encode(manifest), indent=2))
        for path, content in sorted(files.items()):
            archive.writestr(path, content)
    return out.getvalue()


# --- checking ---------------------------------------------------------------------------------


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    item: str
    outcome: Literal["ok", "failed", "indeterminate"]
    detail: str


class BundleReport(msgspec.Struct, frozen=True, kw_only=True):
    submission_id: str | None
    status: str | None
    findings: list[Finding]

    @property
    def outcome(self) -> Literal["ok", "failed", "indeterminate"]:
        outcomes = {f.outcome for f in self.findings}
        return (
            "failed"
            if "failed" in outcomes or not outcomes
            else ("indeterminate" if "indeterminate" in outcomes else "ok")
        )


class BundleUnreadable(Exception):
    pass


def _unpack(data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise BundleUnreadable(f"not a ZIP archive: {exc}") from None
    if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNPACKED:
        raise BundleUnreadable("the archive is larger than any bundle this tool accepts")
    return {m.filename: archive.read(m) for m in members if not m.is_dir()}


def _certificates(data: bytes) -> list[x509.Certificate]:
    return [x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE"]


def _revocation(
    files: dict[str, bytes], paths: list[str]
) -> tuple[list[asn1_crl.CertificateList], list[ocsp.OCSPResponse]]:
    crls = [
        asn1_crl.CertificateList.load(der)
        for path in paths
        if path.endswith(".crl.pem")
        for _, _, der in pem.unarmor(files[path], multiple=True)
    ]
    answers = [ocsp.OCSPResponse.load(files[path]) for path in paths if path.endswith(".der")]
    return crls, answers


def _statement(
    name: str, files: dict[str, bytes], json_path: str, cms_path: str, roots: list[x509.Certificate]
) -> tuple[Finding, dict[str, Any] | None]:
    data, signature = files.get(json_path), files.get(cms_path)
    if data is None or signature is None:
        return Finding(item=name, outcome="failed", detail="missing from the bundle"), None
    report = verify_receipt(data, signature, roots)
    if not report.passed:
        return Finding(item=name, outcome="failed", detail=f"{report.indication} {report.sub_indication}"), None
    decoded: dict[str, Any] = msgspec.json.decode(data)
    if canonical.encode(decoded) != data:
        return Finding(item=name, outcome="failed", detail="not in canonical form"), None
    return Finding(item=name, outcome="ok", detail="signed by the agency, chain to a root you trust"), decoded


def check(data: bytes, trust: list[x509.Certificate], progress: Callable[[str], None] | None = None) -> BundleReport:
    """Check a bundle against roots the caller trusts: hashes, receipts, every signature, the notice.

    ``progress`` is told the name of each item before it is checked (a command shows it on a terminal).
    """
    step = progress or (lambda _: None)
    try:
        files = _unpack(data)
        manifest = msgspec.json.decode(files["manifest.json"], type=Manifest)
    except (BundleUnreadable, KeyError, msgspec.DecodeError) as exc:
        return BundleReport(
            submission_id=None, status=None, findings=[Finding(item="bundle", outcome="failed", detail=str(exc))]
        )
    findings = []
    bad = [p for p, digest in manifest.files.items() if hashlib.sha256(files.get(p, b"")).hexdigest() != digest]
    findings.append(
        Finding(item="manifest", outcome="failed", detail=f"changed or missing: {', '.join(bad)}")
        if bad
        else Finding(item="manifest", outcome="ok", detail=f"{len(manifest.files)} files match their SHA-256")
    )
    roots = [c for c in trust if c.self_signed != "no"] or trust
    by_fingerprint = {fingerprint(c): c for c in trust}
    receipted: dict[int, str] = {}
    first: Receipt | None = None
    for revision in manifest.revisions:
        name = f"revision {revision.number}"
        step(f"{name} receipt")
        finding, receipt_fields = _statement(
            f"{name} receipt", files, revision.receipt, revision.receipt_signature, roots
        )
        findings.append(finding)
        if receipt_fields is None:
            continue
        receipt = msgspec.convert(receipt_fields, Receipt)
        first = first or receipt
        receipted[revision.number] = receipt.document_sha256
        if revision.document is None:
            findings.append(
                Finding(
                    item=f"{name} document", outcome="indeterminate",
                    detail=f"withheld ({revision.withheld}): its signatures cannot be checked from this bundle",
                )
            )  # fmt: skip
        document = files.get(revision.document, b"") if revision.document is not None else None
        consistent = (
            (document is None or hashlib.sha256(document).hexdigest() == receipt.document_sha256)
            and [hashlib.sha256(files.get(s.file, b"")).hexdigest() for s in revision.signatures]
            == receipt.signatures_sha256
            and all(
                hashlib.sha256(files.get(revision.attachments.get(a.field, ""), b"")).hexdigest() == a.sha256
                for a in receipt.attachments
            )
        )
        findings.append(
            Finding(
                item=f"{name} contents",
                outcome="ok" if consistent else "failed",
                detail="document, signatures and attachments are the ones the receipt names"
                if consistent
                else "the files differ from what the receipt names",
            )
        )
        for index, entry in enumerate(revision.signatures if document is not None else (), start=1):
            assert document is not None
            item = f"{name} signature {index}"
            step(item)
            stamped, stamp_finding = _timestamp(files, entry, roots, f"{item} time-stamp")
            if stamp_finding is not None:
                findings.append(stamp_finding)
            findings.append(_signature(files, entry, document, receipt, by_fingerprint, item, stamped))
    if manifest.proxy is not None:
        findings.append(_proxy(files, manifest.proxy, first, by_fingerprint, step))
    if manifest.notice:
        json_file, cms_file, _ = manifest.notice
        step("decision notice")
        finding, notice_fields = _statement("decision notice", files, json_file, cms_file, roots)
        findings.append(finding)
        if notice_fields is not None:
            notice = msgspec.convert(notice_fields, DecisionNotice)
            named = next((r for r in manifest.revisions if r.number == notice.revision), None)
            same = named is not None and (
                # A withheld document: the agency-signed receipt of that revision names its hash.
                receipted.get(named.number) == notice.document_sha256
                if named.document is None
                else hashlib.sha256(files.get(named.document, b"")).hexdigest() == notice.document_sha256
            )
            findings.append(
                Finding(
                    item="decision notice subject",
                    outcome="ok" if same else "failed",
                    detail=f"{notice.decision}, on revision {notice.revision}"
                    if same
                    else "the notice names a document not in this bundle",
                )
            )
    return BundleReport(submission_id=manifest.submission_id, status=manifest.status, findings=findings)


def _proxy(
    files: dict[str, bytes],
    proxy: ProxyEntry,
    receipt: Receipt | None,
    trusted: dict[str, x509.Certificate],
    step: Callable[[str], None],
) -> Finding:
    """The mandate's (or the professional statement's) signature, made before the application was received."""
    item = "mandate signature" if proxy.kind == "mandate" else "statement signature"
    step(item)
    if receipt is None:
        return Finding(item=item, outcome="failed", detail="no verified receipt to date the filing by")
    return _signature(files, proxy.signature, files.get(proxy.document, b""), receipt, trusted, item)


def _timestamp(
    files: dict[str, bytes], entry: SignatureEntry, roots: list[x509.Certificate], item: str
) -> tuple[dt.datetime | None, Finding | None]:
    """The signature's time-stamp, if it has one: its time, once the token checks out against ``roots``."""
    if entry.timestamp is None:
        return None, None
    try:
        value = signature_value(files[entry.file])
        token = files[entry.timestamp]
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        return None, Finding(item=item, outcome="failed", detail=f"unreadable: {exc}")
    # pyHanko's token validation is a coroutine; the checker is called from plain code and from
    # code that already runs a loop, so it gets a loop of its own in a thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            time = pool.submit(asyncio.run, verify_token(token, value, roots)).result()
        except TimestampInvalid as exc:
            return None, Finding(item=item, outcome="failed", detail=str(exc))
    return time, Finding(item=item, outcome="ok", detail=f"the signature existed at {time.isoformat()}")


def _signature(
    files: dict[str, bytes],
    entry: SignatureEntry,
    document: bytes,
    receipt: Receipt,
    trusted: dict[str, x509.Certificate],
    item: str,
    stamped: dt.datetime | None = None,
) -> Finding:
    """Judge one signature again, offline, with the bounds and revocation data recorded for it."""
    try:
        chain = _certificates(files[entry.chain])
        crls, answers = _revocation(files, entry.revocation)
        signature = files[entry.file]
        cms.ContentInfo.load(signature)
    except (KeyError, ValueError) as exc:
        return Finding(item=item, outcome="failed", detail=f"unreadable: {exc}")
    anchors = [
        Anchor(
            certificate=cert,
            certificate_class=(entry.anchor_class or "accredited") if sha == entry.anchor_sha256 else "accredited",
            test=entry.anchor_test if sha == entry.anchor_sha256 else False,
        )
        for sha, cert in trusted.items()
        if cert.ca
    ]
    store = TrustStore(anchors, chain, crls, answers)
    bounds = Bounds(
        validation_time=entry.validation_time,
        signed_after=entry.signed_after,
        signed_before=min(receipt.received_at, stamped) if stamped else receipt.received_at,
    )
    report = Verifier(store).verify(document, signature, Policy(classes=ALL_CLASSES, accept_test=True), bounds)
    outcome: Literal["ok", "failed", "indeterminate"] = (
        "ok" if report.passed else "failed" if report.indication == "TOTAL_FAILED" else "indeterminate"
    )
    agrees = "as recorded" if report.indication == entry.indication else f"recorded {entry.indication}"
    return Finding(
        item=item,
        outcome=outcome,
        detail=f"{report.indication}{' ' + report.sub_indication if report.sub_indication else ''} "
        f"at {entry.validation_time.isoformat()} ({agrees})",
    )
