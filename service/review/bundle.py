"""The evidence bundle of one application, gathered from the database (the format is ``signing.bundle``)."""

from __future__ import annotations

import datetime as dt
from typing import Final

import asyncpg
import msgspec
from asn1crypto import x509

from service.access import Access
from service.audit import trail
from service.mynumber import documents as my_number_documents
from service.mynumber.keystore import KeyStore
from service.proxy import queries as proxy_queries
from service.review import queries
from service.review.service import notice_pdf
from service.submissions.applicant import timeline
from service.submissions.attachments import AttachmentStore
from service.submissions.statements import receipt_pdf
from signing import bundle
from signing.fonts import Typeface
from signing.receipt_keys import ReceiptKey
from signing.report import VerificationReport
from signing.trust import TrustStore
from signing.verify import Rejected, Verifier, parse

#: Why an unauthorised requester's bundle has no signed document for a revision that carries a 個人番号.
WITHHELD: Final = "it carries a 個人番号 (特定個人情報): staff granted my_number:read get it with reveal and a reason"


async def _signature(
    conn: asyncpg.Connection, store: TrustStore, signature: bytes, report: VerificationReport, token: bytes | None
) -> bundle.SignatureEvidence:
    certificates: list[x509.Certificate] = []
    signer = None
    try:
        parsed = parse(signature, [])
        certificates, signer = parsed.certificates, parsed.signer
    except (Rejected, ValueError, KeyError, TypeError):
        pass  # stored signatures parsed at intake; if one no longer does, the bundle still carries its bytes
    chains = store.chains(signer, certificates) if signer is not None else []
    chain = [*chains[0].certificates, chains[0].anchor.certificate] if chains else certificates
    crls, answers = [], []
    if (source := report.revocation) is not None:
        key = bytes.fromhex(source.issuer_key_id)
        if source.kind == "crl":
            found = await conn.fetchval(queries.CRL_USED, key, source.this_update)
            crls = [found] if found is not None else []
        elif signer is not None:
            found = await conn.fetchval(queries.OCSP_USED, key, signer.serial_number, source.this_update)
            answers = [found] if found is not None else []
    return bundle.SignatureEvidence(
        cms=signature,
        report=report,
        chain=chain,
        anchor_class=chains[0].anchor.certificate_class if chains else None,
        anchor_test=chains[0].anchor.test if chains else False,
        crls=crls,
        ocsp_responses=answers,
        timestamp_token=token,
    )


async def build(
    conn: asyncpg.Connection,
    who: Access,
    verifier: Verifier,
    attachments: AttachmentStore,
    receipt_key: ReceiptKey,
    typeface: Typeface,
    now: dt.datetime,
    *,
    keys: KeyStore | None = None,
    reason: str | None = None,
) -> bytes:
    """The ZIP for the applicant or the agency's staff; internal comments are never in it. Audited.

    A document that carries a 個人番号 is in it only for ``reason`` (given by staff whose token has
    ``my_number:read``, which the route has checked); otherwise its masked answers take its place.
    """
    row = await queries.submission(conn, who.submission_id)
    assert row is not None
    revisions = await queries.revisions(conn, who.submission_id)
    ids = [r["id"] for r in revisions]
    signatures = await queries.signatures(conn, ids)
    files = await queries.attachments(conn, ids)
    masked = await my_number_documents.masked(conn, ids)  # 個人番号 (issue #18): sealed revisions
    evidence = []
    for r in revisions:
        pdf = await receipt_pdf(conn, r, receipt_key, typeface)
        document: bytes | None = r["document"]
        withheld = None
        if r["id"] in masked:
            document = None if reason is None else await my_number_documents.opened(
                conn, keys, row["agency_code"], r["id"], r["document"], r["document_sha256"]
            )  # fmt: skip
            if document is None:
                withheld = WITHHELD if reason is None else "its 個人番号 was purged at the end of its retention"
        evidence.append(
            bundle.RevisionEvidence(
                number=r["number"],
                document=document,
                withheld=withheld,
                masked_answers=msgspec.json.encode(masked[r["id"]]) if withheld else None,
                signatures=[
                    await _signature(
                        conn,
                        verifier.store,
                        s["cms"],
                        msgspec.convert(s["report"], VerificationReport),
                        s["timestamp_token"],
                    )
                    for s in signatures
                    if s["revision_id"] == r["id"]
                ],
                attachments=[
                    bundle.AttachmentEvidence(
                        field=a["field"],
                        filename=a["filename"],
                        media_type=a["media_type"],
                        content=await attachments.get(conn, r["id"], a["field"]) or b"",
                    )
                    for a in files
                    if a["revision_id"] == r["id"]
                ],
                receipt_json=r["receipt_json"],
                receipt_cms=r["receipt_cms"],
                receipt_pdf=pdf,
            )
        )
    decided = await queries.decision(conn, who.submission_id)
    notice = None
    if decided is not None:
        pdf = await notice_pdf(conn, who.submission_id, decided, receipt_key, typeface)
        notice = bundle.NoticeEvidence(json=decided["notice_json"], cms=decided["notice_cms"], pdf=pdf)
    events = msgspec.to_builtins(await timeline(conn, who.submission_id))
    proxy = None
    if (filing := await proxy_queries.filing_evidence(conn, who.submission_id)) is not None:
        report = msgspec.convert(filing["report"], VerificationReport)
        proxy = bundle.ProxyEvidence(
            kind=filing["kind"],
            document=filing["mandate"],
            signature=await _signature(conn, verifier.store, filing["mandate_signature"], report, None),
        )
    data = bundle.write(
        bundle.Evidence(
            submission_id=str(who.submission_id), agency=row["agency_code"], status=row["status"], generated_at=now,
            revisions=evidence, notice=notice, agency_chain=receipt_key.chain, timeline=events, proxy=proxy,
        )
    )  # fmt: skip
    await trail.record(
        conn, actor=who.actor, role=who.role, agency=who.agency, action="bundle.downloaded",
        subject=str(who.submission_id), details={"revisions": len(revisions), "bytes": len(data)}, at=now,
    )  # fmt: skip
    if reason is not None and masked:
        await trail.record(
            conn, actor=who.actor, role=who.role, agency=who.agency, action="my_number.revealed",
            subject=str(who.submission_id), details={"bundle": True, "reason": reason}, at=now,
        )  # fmt: skip
    return data
