"""Review rules: who may see and act on an application, the clerk's view, decisions, notices, comments.

Staff act only inside their agency: another agency's application is reported as absent (404), the
same answer as for one that does not exist. Every view, download and action is appended to the
audit trail inside the transaction that performs it, with ids and codes only (no answers, names or
messages, which may carry personal data).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, Literal

import asyncpg
import msgspec
from pyhanko.sign.timestamps import TimeStamper

from forms import answers as form_answers
from forms.components.registry import ComponentRegistry
from forms.schema import FormSchema
from service import access
from service.access import STAFF, Access
from service.audit import trail
from service.auth.principal import require_role
from service.auth.schemas import Principal
from service.mynumber import documents as my_number_documents
from service.problems import (
    Forbidden,
    FormInvalid,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ServiceUnavailable,
    StateConflict,
)
from service.proxy import service as proxy
from service.review import queries
from service.review.schemas import (
    AssignmentOut,
    AttachmentOut,
    AuditOut,
    ClerkRevision,
    ClerkSubmissionOut,
    CommentOut,
    DecisionIn,
    DecisionOut,
    SignatureOut,
)
from service.submissions import queries as submission_queries
from service.submissions import workflow
from service.submissions.applicant import timeline
from service.submissions.attachments import AttachmentStore
from service.submissions.schemas import Links, Verification
from service.submissions.statements import print_statement
from service.validation import FieldProblem
from signing.fonts import Typeface
from signing.receipt_keys import ReceiptKey
from signing.receipts import DecisionNotice, sign_receipt
from signing.report import VerificationReport
from signing.timestamps import TimestampUnavailable

NOTICE_MEDIA: Final = {
    "json": "application/json",
    "p7s": "application/pkcs7-signature",
    "pdf": "application/pdf",
}


def etag(number: int, document_sha256: bytes) -> str:
    """The latest revision's entity tag: it changes when an amendment arrives, and only then."""
    return f'"r{number}-{document_sha256.hex()[:20]}"'


def _schema(schema: dict[str, Any]) -> FormSchema:
    return msgspec.convert(schema, FormSchema)


async def clerk_view(
    conn: asyncpg.Connection, who: Access, now: dt.datetime, components: ComponentRegistry
) -> tuple[ClerkSubmissionOut, str]:
    """Everything about one application for its agency's staff, and its ETag; opening it is audited.

    ``components`` are the app's field types: each answer's ``display`` is its field type's rendering.
    """
    assert who.staff is not None
    first = await queries.mark_opened(conn, who.submission_id, now)
    await trail.record(
        conn, actor=who.actor, role=who.role, agency=who.agency, action="submission.viewed",
        subject=str(who.submission_id), details={"first": first is not None}, at=now,
    )  # fmt: skip
    row = await queries.submission(conn, who.submission_id)
    assert row is not None
    revisions = await queries.revisions(conn, who.submission_id)
    ids = [r["id"] for r in revisions]
    signatures: dict[uuid.UUID, list[SignatureOut]] = {i: [] for i in ids}
    for s in await queries.signatures(conn, ids):
        signatures[s["revision_id"]].append(
            SignatureOut(
                position=s["position"],
                sha256=s["sha256"].hex(),
                report=msgspec.convert(s["report"], VerificationReport),
            )
        )
    files: dict[uuid.UUID, list[AttachmentOut]] = {i: [] for i in ids}
    base = f"/api/v1/submissions/{who.submission_id}"
    for a in await queries.attachments(conn, ids):
        files[a["revision_id"]].append(
            AttachmentOut(
                field=a["field"], filename=a["filename"], media_type=a["media_type"], size=a["size"],
                sha256=a["sha256"].hex(), report=a["report"], download=f"{base}/attachments/{a['sha256'].hex()}",
            )
        )  # fmt: skip
    out_revisions: list[ClerkRevision] = []
    previous: dict[str, Any] | None = None
    masked = await my_number_documents.masked(conn, ids)  # 個人番号 (issue #18): sealed revisions' answers
    for r in revisions:
        document = {"answers": masked[r["id"]]} if r["id"] in masked else msgspec.json.decode(r["document"])
        schema = _schema(r["schema"])
        changes = None if previous is None else form_answers.diff(schema, previous["answers"], document["answers"])
        out_revisions.append(
            ClerkRevision(
                number=r["number"], receipt_number=r["receipt_number"], received_at=r["received_at"],
                form_version=r["form_version"], document_sha256=r["document_sha256"].hex(),
                verification=msgspec.convert(r["verification"], Verification), flags=list(r["flags"]),
                signatures=signatures[r["id"]], attachments=files[r["id"]], changes=changes,
            )
        )  # fmt: skip
        previous = document
    latest, signed = revisions[-1], previous or {}
    latest_schema = _schema(latest["schema"])
    tag = etag(latest["number"], latest["document_sha256"])
    view = ClerkSubmissionOut(
        submission_id=row["id"],
        agency=row["agency_code"],
        procedure=row["procedure_id"],
        procedure_name=row["procedure_name"],
        form_id=row["form_id"],
        form_title=latest_schema.title.ja,
        status=row["status"],
        allowed_actions=workflow.allowed(row["status"]),
        assignee=row["assignee"],
        received_at=row["created_at"],
        first_opened_at=row["first_opened_at"],
        etag=tag,
        flags=list(row["flags"]),
        answers=form_answers.render(latest_schema, signed.get("answers", {}), components),
        revisions=out_revisions,
        timeline=await timeline(conn, who.submission_id),
        comments=[CommentOut(**dict(c)) for c in await queries.comments(conn, who.submission_id)],
        audit=[AuditOut(**dict(a)) for a in await queries.audit(conn, str(who.submission_id))],
        links=Links.of(who.submission_id, decided=await submission_queries.decided(conn, who.submission_id)),
        proxy=await proxy.filing_view(conn, who.submission_id),
    )
    return view, tag


async def _locked(conn: asyncpg.Connection, who: Principal, submission_id: uuid.UUID) -> queries.Locked:
    require_role(who, *STAFF)
    row = await queries.lock(conn, submission_id)
    if row is None or row.agency_code != who.agency_code:
        raise NotFound(f"There is no submission {submission_id}.")
    return row


async def assign(conn: asyncpg.Connection, who: Principal, submission_id: uuid.UUID, clerk: uuid.UUID) -> AssignmentOut:
    """An agency admin hands an application to one of the agency's clerks (a received one goes under review)."""
    row = await _locked(conn, who, submission_id)  # another agency's application is absent, whoever asks
    require_role(who, "agency-admin")
    status = workflow.advance(row.status, "assign")
    if not await queries.is_active_clerk(conn, clerk, row.agency_code):
        raise FormInvalid(
            "The assignee must be an active clerk of this agency.",
            errors=[
                FieldProblem(pointer="/clerk", code="not_a_clerk", detail="no active clerk of this agency has this id")
            ],
        )
    await queries.set_assignment(conn, submission_id, status, clerk)
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=who.agency_code, action="submission.assigned",
        subject=str(submission_id), details={"assignee": str(clerk), "from": row.status, "to": status},
    )  # fmt: skip
    return AssignmentOut(submission_id=submission_id, status=status, assignee=clerk)


async def release(conn: asyncpg.Connection, who: Principal, submission_id: uuid.UUID) -> AssignmentOut:
    """Back to the pool: by an agency admin, or by the clerk who holds it."""
    row = await _locked(conn, who, submission_id)
    if who.role != "agency-admin" and row.assignee != who.token_id:
        raise Forbidden("Only an agency admin, or the clerk it is assigned to, can release an application.")
    status = workflow.advance(row.status, "release")
    await queries.set_assignment(conn, submission_id, status, None)
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=who.agency_code, action="submission.released",
        subject=str(submission_id), details={"from": row.status, "to": status},
    )  # fmt: skip
    return AssignmentOut(submission_id=submission_id, status=status, assignee=None)


def _check_etag(if_match: str | None, current: str) -> None:
    """Strong comparison (RFC 9110 §13.1.1): the decision must be about the revision the clerk read."""
    if if_match is None:
        raise PreconditionRequired(
            "Send If-Match with the ETag of the submission you reviewed (GET /api/v1/submissions/{id})."
        )
    offered = [tag.strip() for tag in if_match.split(",")]
    if "*" not in offered and current not in offered:
        raise PreconditionFailed(
            "The application changed since you read it (a new revision arrived): read it again before deciding."
        )


def _unknown_pointers(schema: FormSchema, pointers: list[str]) -> list[FieldProblem]:
    ids = {spec.id for spec in schema.fields()}
    return [
        FieldProblem(pointer=f"/fields/{i}", code="unknown_field", detail=f"{p!r} is not an answer of this form")
        for i, p in enumerate(pointers)
        if not p.startswith("/answers/") or p.split("/")[2] not in ids
    ]


async def decide(
    conn: asyncpg.Connection,
    who: Principal,
    submission_id: uuid.UUID,
    if_match: str | None,
    data: DecisionIn,
    receipt_key: ReceiptKey,
    now: dt.datetime,
    timestamper: TimeStamper | None = None,
) -> tuple[DecisionOut, str]:
    """Approve, reject or send back; approval and rejection are issued as a signed notice."""
    row = await _locked(conn, who, submission_id)
    latest = await queries.latest(conn, submission_id)
    tag = etag(latest.number, latest.document_sha256)
    _check_etag(if_match, tag)
    status = workflow.advance(row.status, data.decision)
    if who.role == "clerk" and row.assignee not in (None, who.token_id):
        raise StateConflict(
            "This application is assigned to another clerk.",
            extensions={"current_state": row.status, "assignee": str(row.assignee)},
        )
    if data.decision == "approve" and latest.verification_status != "passed":
        raise StateConflict(
            f"The signatures of revision {latest.number} are {latest.verification_status}: "
            "an application is approved only once its signatures have passed.",
            extensions={"current_state": row.status, "verification": latest.verification_status},
        )
    schema = _schema(latest.schema)
    fields = data.fields or []
    if data.decision == "request_correction" and (problems := _unknown_pointers(schema, fields)):
        raise FormInvalid(f"{len(problems)} of the fields named are not answers of this form.", errors=problems)
    notice_number = None
    if data.decision in ("approve", "reject"):
        notice_number = f"{latest.receipt_number}-D"
        notice = DecisionNotice(
            notice_number=notice_number, submission_id=str(submission_id), agency=row.agency_code,
            form_id=schema.id, form_version=latest.form_version, revision=latest.number,
            receipt_number=latest.receipt_number, document_sha256=latest.document_sha256.hex(),
            decision="approved" if data.decision == "approve" else "rejected", message=data.message, decided_at=now,
        )  # fmt: skip
        # The JSON and its CMS are the notice, issued with the decision; the PDF (its print) is
        # rendered on first download, as receipts are, so deciding does not wait on font subsetting.
        try:
            notice_json, notice_cms = await sign_receipt(notice, receipt_key.signer, timestamper)
        except TimestampUnavailable:
            raise ServiceUnavailable(
                "The time-stamping service did not answer; decide again shortly.", retry_after=30
            ) from None
        await queries.insert_decision(
            conn,
            queries.NewDecision(
                submission_id=submission_id, revision_id=latest.id, decision=notice.decision,
                notice_number=notice_number, decided_by=who.token_id, decided_at=now, notice_json=notice_json,
                notice_cms=notice_cms,
            ),
        )  # fmt: skip
    await conn.execute(submission_queries.SET_STATUS, submission_id, status)
    await submission_queries.event(
        conn,
        submission_id,
        latest.id,
        status,
        data.message,
        fields if data.decision == "request_correction" else None,
    )
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=row.agency_code, action=f"submission.{status}",
        subject=str(submission_id),
        details={"revision": latest.number, "from": row.status, "to": status, "notice_number": notice_number,
                 "fields": len(fields)},
        at=now,
    )  # fmt: skip
    out = DecisionOut(
        submission_id=submission_id,
        status=status,
        decision=data.decision,
        notice_number=notice_number,
        links=Links.of(submission_id, decided=notice_number is not None),
    )
    return out, tag


async def add_comment(conn: asyncpg.Connection, who: Principal, submission_id: uuid.UUID, body: str) -> CommentOut:
    """An internal note: staff only, never in the applicant's view or bundle; its text is not audited."""
    await access.staff(conn, who, submission_id)
    row = await queries.insert_comment(conn, submission_id, who.token_id, who.role, body)
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=who.agency_code, action="comment.added",
        subject=str(submission_id), details={"comment": row["id"]},
    )  # fmt: skip
    return CommentOut(**dict(row))


async def download_attachment(
    conn: asyncpg.Connection, who: Access, sha256_hex: str, store: AttachmentStore
) -> tuple[str, str, bytes]:
    """(filename, media type, bytes) of a file of this application, by its SHA-256; the download is audited."""
    try:
        digest = bytes.fromhex(sha256_hex)
    except ValueError:
        digest = b""
    found = await queries.attachment_by_digest(conn, who.submission_id, digest) if len(digest) == 32 else None
    if found is None:
        raise NotFound(f"Submission {who.submission_id} has no file with SHA-256 {sha256_hex}.")
    content = await store.get(conn, found["revision_id"], found["field"])
    assert content is not None  # stored in the revision's transaction
    await trail.record(
        conn, actor=who.actor, role=who.role, agency=who.agency, action="attachment.downloaded",
        subject=str(who.submission_id), details={"sha256": sha256_hex, "field": found["field"]},
    )  # fmt: skip
    return found["filename"], found["media_type"], content


async def notice_pdf(
    conn: asyncpg.Connection, submission_id: uuid.UUID, row: asyncpg.Record, key: ReceiptKey, typeface: Typeface
) -> bytes:
    """The notice's PDF, rendered and kept on first request."""
    pdf: bytes | None = row["notice_pdf"]
    if pdf is None:
        notice = msgspec.json.decode(row["notice_json"], type=DecisionNotice)
        pdf = await print_statement(conn, notice, key, typeface)
        await queries.set_notice_pdf(conn, submission_id, pdf)
    return pdf


async def decision_notice(
    conn: asyncpg.Connection, who: Access, kind: Literal["json", "p7s", "pdf"], key: ReceiptKey, typeface: Typeface
) -> bytes:
    row = await queries.decision(conn, who.submission_id)
    if row is None:
        raise NotFound(f"Submission {who.submission_id} has no decision notice (it is not decided).")
    await trail.record(
        conn, actor=who.actor, role=who.role, agency=who.agency, action="decision_notice.downloaded",
        subject=str(who.submission_id), details={"format": kind, "notice_number": row["notice_number"]},
    )  # fmt: skip
    if kind == "pdf":
        return await notice_pdf(conn, who.submission_id, row, key, typeface)
    content: bytes = row["notice_json" if kind == "json" else "notice_cms"]
    return content
