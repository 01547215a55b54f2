"""Intake rules: validate, verify, match attachments, consume the nonce, store everything at once.

The order is the issue's: the document against its pinned published version, then every signature
against the form's and the procedure's policy, then the attachments, then the nonce, then one
transaction for every row and the receipt. The request's connection commits only when the handler
returns, so a 201 is sent only after the commit, and any failure leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata
import uuid
from typing import Any, Final

import asyncpg
import msgspec

from forms.schema import AttachmentField, FormSchema, GroupField
from service.agencies import queries as agency_queries
from service.audit import trail
from service.catalog import queries as catalog_queries
from service.catalog.schemas import DigitalPolicy
from service.offload import cpu_bound
from service.problems import (
    DuplicateSubmission,
    FormInvalid,
    IdempotencyMismatch,
    NonceInvalid,
    NotFound,
    SignatureRejected,
    StateConflict,
    Unauthenticated,
    VersionState,
)
from service.publishing.cache import CompiledForms
from service.submissions import queries, workflow
from service.submissions.attachments import AttachmentStore, content_problem, pdf_signatures
from service.submissions.schemas import (
    Links,
    NonceOut,
    RevisionOut,
    SignerSummary,
    SubmissionCreated,
    SubmissionOut,
    TimelineEvent,
    Verification,
    WithdrawalDocument,
)
from service.validation import FieldProblem
from signing.jpki import CertificateClass
from signing.receipts import AttachmentDigest, Receipt, ReceiptKey, Statement, render_pdf, sign_receipt
from signing.report import VerificationReport
from signing.verify import Bounds, Policy, Verifier

TOKEN_PREFIX: Final = "sbm_"  # noqa: S105 - a prefix that marks applicant tokens, not a secret
ALL_CLASSES: Final[frozenset[CertificateClass]] = frozenset({"jpki", "corporate", "accredited"})
QUALIFIED_CLASSES: Final[frozenset[CertificateClass]] = frozenset({"jpki", "corporate"})
_decoder: Final = msgspec.json.Decoder()


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    filename: str
    content_type: str
    content: bytes


class Parts(msgspec.Struct, frozen=True, kw_only=True):
    document: bytes
    signatures: list[bytes]
    attachments: list[Upload]


class Intake(msgspec.Struct, frozen=True, kw_only=True):
    """What intake needs besides the connection: passed in, never global."""

    compiled: CompiledForms
    verifier: Verifier
    receipt_key: ReceiptKey
    attachments: AttachmentStore
    now: dt.datetime


def links(submission_id: uuid.UUID, *, decided: bool = False) -> Links:
    base = f"/api/v1/submissions/{submission_id}"
    return Links(
        self=base,
        receipt=f"{base}/receipt.json",
        receipt_signature=f"{base}/receipt.p7s",
        receipt_pdf=f"{base}/receipt.pdf",
        bundle=f"{base}/bundle",
        decision_notice=f"{base}/decision-notice.json" if decided else None,
    )


def request_digest(parts: Parts) -> bytes:
    """What an Idempotency-Key promises stays the same: the document, the signatures, the files."""
    h = hashlib.sha256(parts.document)
    for item in [*parts.signatures, *(a.content for a in parts.attachments)]:
        h.update(hashlib.sha256(item).digest())
    return h.digest()


async def issue_nonce(conn: asyncpg.Connection, form_id: str, number: int, lifetime: dt.timedelta) -> NonceOut:
    version = await queries.form_version(conn, form_id, number)
    if version is None or version.status == "draft":
        raise NotFound(f"Form {form_id} has no published version {number}.")
    if version.status != "published":
        raise VersionState(f"Version {number} of {form_id} is retired: it accepts no new submissions.")
    row = await queries.insert_nonce(conn, secrets.token_urlsafe(24), version.id, lifetime)
    return NonceOut(nonce=row["nonce"], issued_at=row["issued_at"], expires_at=row["expires_at"])


def _invalid_form(errors: list[FieldProblem], **extensions: Any) -> FormInvalid:
    count = len(errors)
    return FormInvalid(
        f"{count} field{'s' if count != 1 else ''} need{'s' if count == 1 else ''} attention.",
        errors=errors,
        extensions=extensions,
    )


def signature_policy(schema: FormSchema, digital_policy: DigitalPolicy) -> tuple[Policy, int]:
    """The form narrows the classes; a procedure that needs a qualified signature narrows them further."""
    accept = frozenset(schema.signature.accept) if schema.signature else ALL_CLASSES
    if digital_policy.signature == "qualified":
        accept &= QUALIFIED_CLASSES
    return Policy(classes=accept), (schema.signature.signers if schema.signature else 1)


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def identity(report: VerificationReport) -> dict[str, Any]:
    """Who signed, as a later withdrawal must match it (a renewed certificate still matches)."""
    signer = report.signer
    if report.holder is not None and report.holder.name is not None:
        birth = report.holder.birth_date.isoformat() if report.holder.birth_date else None
        return {"class": "jpki", "name": _fold(report.holder.name), "birth_date": birth}
    return {"class": signer.certificate_class if signer else None, "subject": signer.subject if signer else None}


def _summary(report: VerificationReport) -> SignerSummary:
    name = report.holder.name if report.holder else (report.signer.subject if report.signer else None)
    return SignerSummary(
        indication=report.indication,
        sub_indication=report.sub_indication,
        certificate_class=report.signer.certificate_class if report.signer else None,
        name=name,
    )


def judge_signatures(reports: list[VerificationReport], required: int) -> Verification:
    """All must pass, or be waiting for revocation data only; and enough distinct people must sign."""
    signers = [_summary(r) for r in reports]
    refused = [r for r in reports if not r.passed and not r.retryable]
    if refused:
        raise SignatureRejected(
            f"{len(refused)} of {len(reports)} signature(s) cannot be accepted: {refused[0].sub_indication}.",
            extensions={"reports": [msgspec.to_builtins(r) for r in reports]},
        )
    distinct = {msgspec.json.encode(identity(r)) for r in reports}
    if len(distinct) < required:
        raise SignatureRejected(
            f"This form needs {required} different signers; {len(distinct)} signed.",
            extensions={"reports": [msgspec.to_builtins(r) for r in reports]},
        )
    pending = any(r.retryable for r in reports)
    return Verification(
        status="pending" if pending else "passed",
        indication="INDETERMINATE" if pending else "TOTAL_PASSED",
        sub_indication="TRY_LATER" if pending else None,
        signers=signers,
    )


def _declared_attachments(schema: FormSchema, answers: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(field path, pointer, answer) for every attachment the document declares."""
    found = []
    for spec in schema.fields():
        value = answers.get(spec.id)
        if isinstance(spec, AttachmentField) and isinstance(value, dict):
            found.append((spec.id, f"/answers/{spec.id}", value))
        elif isinstance(spec, GroupField) and isinstance(value, list):
            for index, item in enumerate(value):
                for sub in spec.fields:
                    if (
                        isinstance(sub, AttachmentField)
                        and isinstance(item, dict)
                        and isinstance(item.get(sub.id), dict)
                    ):
                        found.append(
                            (f"{spec.id}/{index}/{sub.id}", f"/answers/{spec.id}/{index}/{sub.id}", item[sub.id])
                        )
    return found


def match_attachments(
    schema: FormSchema, answers: dict[str, Any], uploads: list[Upload]
) -> list[tuple[str, dict[str, Any], Upload]]:
    """Pair each declared file with an uploaded part by SHA-256 and size; every mismatch names its field."""
    by_digest = {(hashlib.sha256(u.content).hexdigest(), len(u.content)): u for u in uploads}
    used: set[tuple[str, int]] = set()
    paired, errors = [], []
    for path, pointer, answer in _declared_attachments(schema, answers):
        key = (str(answer.get("sha256")), int(answer.get("size", -1)))
        upload = by_digest.get(key)
        if upload is None:
            errors.append(
                FieldProblem(
                    pointer=pointer, code="attachment_missing", detail="no uploaded file has this SHA-256 and size"
                )
            )
            continue
        used.add(key)
        if (problem := content_problem(str(answer.get("media_type")), upload.content)) is not None:
            errors.append(FieldProblem(pointer=pointer, code="media_type", detail=problem))
        paired.append((path, answer, upload))
    for key, upload in by_digest.items():
        if key not in used:
            errors.append(
                FieldProblem(
                    pointer="", code="attachment_extra", detail=f"{upload.filename!r} is not declared by the document"
                )
            )
    if errors:
        raise _invalid_form(errors)
    return paired


def _binding_flags(schema: FormSchema, answers: dict[str, Any], reports: list[VerificationReport]) -> list[str]:
    holders = [r.holder for r in reports if r.holder is not None]
    if not holders:
        return []
    for spec in schema.fields():
        if spec.binds is None or spec.id not in answers:
            continue
        answer = _fold(str(answers[spec.id]))
        wanted = {
            "signer.name": [h.name for h in holders],
            "signer.address": [h.address for h in holders],
            "signer.birth_date": [h.birth_date.isoformat() if h.birth_date else None for h in holders],
        }[spec.binds]
        if all(value is None or _fold(value) != answer for value in wanted):
            return ["identity_mismatch"]
    return []


def open_flags(flags: list[str], verification: Verification) -> list[str]:
    """What a clerk should know of a revision: its flags, and whether its signatures still wait."""
    return flags + (["verification_pending"] if verification.status == "pending" else [])


async def _idempotent_reply(conn: asyncpg.Connection, key: str | None, digest: bytes) -> dict[str, Any] | None:
    if key is None:
        return None
    row = await conn.fetchrow(queries.SELECT_IDEMPOTENT, key)
    if row is None:
        return None
    if row["request_sha256"] != digest:
        raise IdempotencyMismatch("This Idempotency-Key was used for a different request.")
    response: dict[str, Any] = row["response"]
    return response


async def _pinned_version(
    conn: asyncpg.Connection, parts: Parts, intake: Intake
) -> tuple[queries.VersionRow, FormSchema, dict[str, Any]]:
    """The published version the document names, and the document validated against it."""
    try:
        head = _decoder.decode(parts.document)
    except msgspec.DecodeError as exc:
        raise _invalid_form([FieldProblem(pointer="", code="malformed", detail=f"not JSON: {exc}")]) from None
    form_id = head.get("form_id") if isinstance(head, dict) else None
    number = head.get("form_version") if isinstance(head, dict) else None
    version = None
    if isinstance(form_id, str) and type(number) is int:
        version = await queries.form_version(conn, form_id, number)
    if version is None or version.status == "draft":
        raise _invalid_form(
            [FieldProblem(pointer="/form_id", code="unknown_form", detail="no such published form version")]
        )
    if version.status != "published":
        raise _invalid_form(
            [FieldProblem(pointer="/form_version", code="not_accepting", detail="this version is retired")],
            form_version_status=version.status,
        )
    schema = msgspec.convert(version.schema, FormSchema)
    compiled = await intake.compiled.aget(schema, version.version, version.sha256.hex() if version.sha256 else "")
    if errors := await cpu_bound(len(parts.document), compiled.validate, parts.document):
        raise _invalid_form([FieldProblem(pointer=e.pointer, code=e.code, detail=e.detail) for e in errors])
    return version, schema, head


async def submit(conn: asyncpg.Connection, parts: Parts, intake: Intake, idempotency_key: str | None) -> dict[str, Any]:
    """Take one signed document; returns the 201 body (the stored one again for a repeated key)."""
    # Only a request that carries a key is hashed whole (attachments may be tens of MiB).
    size = len(parts.document) + sum(len(s) for s in parts.signatures) + sum(len(a.content) for a in parts.attachments)
    digest = await cpu_bound(size, request_digest, parts) if idempotency_key is not None else b""
    if (replay := await _idempotent_reply(conn, idempotency_key, digest)) is not None:
        return replay
    version, schema, head = await _pinned_version(conn, parts, intake)
    if not parts.signatures:
        raise SignatureRejected("The document must be signed: send at least one signature part.")
    policy, required = signature_policy(schema, version.digital_policy())
    # Consumed now, in one round trip that also gives the signing time's lower bound; a later failure
    # rolls it back with everything else. Its error is raised in its place, after the others.
    nonce = head.get("nonce")
    issued = await queries.consume_nonce(conn, nonce, version.id) if isinstance(nonce, str) else None
    bounds = Bounds(validation_time=intake.now, signed_after=issued)
    reports = [await intake.verifier.averify(parts.document, cms, policy, bounds) for cms in parts.signatures]
    verification = judge_signatures(reports, required)
    answers = head["answers"]
    # Hashing tens of MiB and opening PDFs: off the loop (hashlib lets go of the GIL while it hashes).
    size = sum(len(u.content) for u in parts.attachments)
    paired = await cpu_bound(size, match_attachments, schema, answers, parts.attachments)
    # The same bytes carry the same nonce: the duplicate is named before the used nonce.
    document_sha256 = hashlib.sha256(parts.document).digest()
    if (original := await queries.duplicate_of(conn, document_sha256)) is not None:
        raise DuplicateSubmission(
            "These exact document bytes were already submitted.",
            extensions={"links": {"original": f"/api/v1/submissions/{original}"}},
        )
    if issued is None:
        raise NonceInvalid("The nonce in the document is unknown, already used, expired, or for another form version.")
    flags = _binding_flags(schema, answers, reports)
    signers = [identity(r) for r in reports]
    token: str | None = None
    if head.get("amends") is None:
        submission_id, revision = uuid.uuid4(), 1
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    else:
        submission_id, revision = await _amend(conn, head["amends"], signers, schema.id)
    receipt_number = await _store_revision(
        conn, intake, parts, version, head, submission_id, revision, verification, flags, reports, paired,
        new_submission=(hashlib.sha256(token.encode()).digest(), signers) if token else None,
    )  # fmt: skip
    body: dict[str, Any] = msgspec.to_builtins(
        SubmissionCreated(
            submission_id=submission_id,
            revision=revision,
            receipt_number=receipt_number,
            status="received",
            received_at=intake.now,
            verification=verification,
            flags=open_flags(flags, verification),
            access_token=token or "",
            links=links(submission_id),
        )
    )
    await trail.record(
        conn, actor="applicant", role="applicant", agency=version.agency_code,
        action="submission.received" if revision == 1 else "submission.amended", subject=str(submission_id),
        details={"revision": revision, "receipt_number": receipt_number, "verification": verification.status},
        at=intake.now,
    )  # fmt: skip
    if idempotency_key is not None:
        await conn.execute(queries.INSERT_IDEMPOTENT, idempotency_key, digest, 201, body)
    return body


async def _store_revision(
    conn: asyncpg.Connection,
    intake: Intake,
    parts: Parts,
    version: queries.VersionRow,
    head: dict[str, Any],
    submission_id: uuid.UUID,
    revision: int,
    verification: Verification,
    flags: list[str],
    reports: list[VerificationReport],
    paired: list[tuple[str, dict[str, Any], Upload]],
    new_submission: tuple[bytes, list[dict[str, Any]]] | None,
) -> str:
    """Every row of one revision, and its signed receipt; returns the receipt number."""
    revision_id = uuid.uuid4()
    document_sha256 = hashlib.sha256(parts.document).digest()
    sequence = await queries.next_receipt_number(conn, version.agency_code, intake.now.year)
    receipt_number = f"{version.agency_code}-{intake.now.year}-{sequence:06d}"
    receipt = Receipt(
        receipt_number=receipt_number,
        submission_id=str(submission_id),
        agency=version.agency_code,
        form_id=str(head["form_id"]),
        form_version=version.version,
        document_sha256=document_sha256.hex(),
        attachments=[
            AttachmentDigest(field=path, filename=str(a["filename"]), sha256=str(a["sha256"])) for path, a, _ in paired
        ],
        signatures_sha256=[hashlib.sha256(s).hexdigest() for s in parts.signatures],
        received_at=intake.now,
        verification=verification.indication,
    )
    receipt_json, receipt_cms = await sign_receipt(receipt, intake.receipt_key.signer)
    token_hash, signers = new_submission if new_submission is not None else (None, None)
    events = ["received" if revision == 1 else "amended"] + (
        ["verification_pending"] if verification.status == "pending" else []
    )
    await conn.execute(
        queries.INSERT_REVISION_ALL, revision_id, submission_id, revision, version.id, head["nonce"],
        parts.document, document_sha256, intake.now, verification.status, msgspec.to_builtins(verification),
        flags, receipt_number, receipt_json, receipt_cms,
        version.agency_code, version.procedure_id, str(head["form_id"]), token_hash, signers,
        parts.signatures, [hashlib.sha256(s).digest() for s in parts.signatures],
        [msgspec.to_builtins(r) for r in reports], events, open_flags(flags, verification),
    )  # fmt: skip
    for path, answer, upload in paired:
        pdf_report = await pdf_signatures(upload.content, intake.verifier.store)
        await conn.execute(
            queries.INSERT_ATTACHMENT, revision_id, path, str(answer["filename"]), str(answer["media_type"]),
            len(upload.content), hashlib.sha256(upload.content).digest(), pdf_report,
        )  # fmt: skip
        await intake.attachments.put(conn, revision_id, path, upload.content)
    return receipt_number


async def _amend(
    conn: asyncpg.Connection, amends: dict[str, Any], signers: list[dict[str, Any]], form_id: str
) -> tuple[uuid.UUID, int]:
    """The next revision of an application whose latest one was sent back for correction."""
    submission_id = uuid.UUID(str(amends["submission_id"]))
    row = await queries.submission(conn, submission_id, lock=True)
    if row is None or row.form_id != form_id:
        raise NotFound(f"There is no submission {submission_id} of form {form_id}.")
    status = workflow.advance(row.status, "amend")
    if row.assignee is not None:
        # The clerk who asked for the correction keeps the application: it goes back to their desk.
        status = workflow.advance(status, "assign")
    latest = await conn.fetchrow(queries.SELECT_LATEST_REVISION, submission_id)
    assert latest is not None  # a submission always has a first revision
    if latest["document_sha256"].hex() != amends["document_sha256"]:
        raise StateConflict(
            "The amendment does not name the latest revision's document.", extensions={"current_state": row.status}
        )
    if not _same_signer(row.signer_identity, signers):
        raise SignatureRejected("An amendment must be signed by the applicant who signed the application.")
    await conn.execute(queries.SET_STATUS, submission_id, status)
    return submission_id, latest["number"] + 1


def _same_signer(original: list[dict[str, Any]], now: list[dict[str, Any]]) -> bool:
    return any(identity in original for identity in now)


async def authorised(conn: asyncpg.Connection, submission_id: uuid.UUID, token: str | None) -> queries.SubmissionRow:
    """The applicant's view needs the submission's access token; a wrong one looks like no submission."""
    if token is None:
        raise Unauthenticated("Send the submission's access token as a bearer token.")
    row = await queries.submission(conn, submission_id)
    if row is None or not secrets.compare_digest(row.access_token_hash, hashlib.sha256(token.encode()).digest()):
        raise NotFound(f"There is no submission {submission_id}.")
    return row


async def view(conn: asyncpg.Connection, row: queries.SubmissionRow) -> SubmissionOut:
    revisions = [
        RevisionOut(
            number=r["number"],
            receipt_number=r["receipt_number"],
            received_at=r["received_at"],
            document_sha256=r["document_sha256"].hex(),
            verification=msgspec.convert(r["verification"], Verification),
            flags=list(r["flags"]),
        )
        for r in await conn.fetch(queries.SELECT_REVISIONS, row.id)
    ]
    return SubmissionOut(
        submission_id=row.id,
        agency=row.agency_code,
        procedure=row.procedure_id,
        form_id=row.form_id,
        status=row.status,  # type: ignore[arg-type]
        revisions=revisions,
        timeline=await timeline(conn, row.id),
        links=links(row.id, decided=await queries.decided(conn, row.id)),
    )


async def timeline(conn: asyncpg.Connection, submission_id: uuid.UUID) -> list[TimelineEvent]:
    """What happened to an application, as its applicant sees it (no internal comments)."""
    return [
        TimelineEvent(kind=e["kind"], at=e["at"], revision=e["revision"], message=e["message"], fields=e["fields"])
        for e in await conn.fetch(queries.SELECT_EVENTS, submission_id)
    ]


async def print_statement(conn: asyncpg.Connection, statement: Statement, key: ReceiptKey) -> bytes:
    """The signed PDF of a receipt or a decision notice, headed with the agency's name."""
    agency = await agency_queries.get_agency(conn, statement.agency)
    return await render_pdf(statement, agency.name_ja if agency else statement.agency, key.signer)


async def receipt_pdf(conn: asyncpg.Connection, revision: asyncpg.Record, key: ReceiptKey) -> bytes:
    """A revision's receipt PDF: rendered on first request, then kept (the JSON and its CMS are the receipt)."""
    pdf: bytes | None = revision["receipt_pdf"]
    if pdf is None:
        pdf = await print_statement(conn, msgspec.json.decode(revision["receipt_json"], type=Receipt), key)
        await conn.execute(queries.SET_RECEIPT_PDF, revision["id"], pdf)
    return pdf


async def submission_nonce(conn: asyncpg.Connection, row: queries.SubmissionRow, lifetime: dt.timedelta) -> NonceOut:
    """A nonce for signing a withdrawal (or an amendment) of this submission's form version."""
    version_id = await queries.latest_form_version(conn, row.id)
    record = await queries.insert_nonce(conn, secrets.token_urlsafe(24), version_id, lifetime)
    return NonceOut(nonce=record["nonce"], issued_at=record["issued_at"], expires_at=record["expires_at"])


async def withdraw(conn: asyncpg.Connection, row: queries.SubmissionRow, parts: Parts, intake: Intake) -> SubmissionOut:
    """取下げ: a signed request by the same person (the certificate may have been renewed), before a decision."""
    try:
        request = msgspec.json.decode(parts.document, type=WithdrawalDocument)
    except msgspec.ValidationError as exc:
        raise _invalid_form([FieldProblem(pointer="", code="invalid", detail=str(exc))]) from None
    if request.submission_id != row.id:
        raise _invalid_form([FieldProblem(pointer="/submission_id", code="mismatch", detail=f"must be {row.id}")])
    locked = await queries.submission(conn, row.id, lock=True)
    assert locked is not None
    status = workflow.advance(locked.status, "withdraw")
    version_id = await queries.latest_form_version(conn, row.id)
    nonce_row = await conn.fetchrow(queries.SELECT_NONCE, request.nonce)
    bounds = Bounds(validation_time=intake.now, signed_after=nonce_row["issued_at"] if nonce_row else None)
    reports = [
        await intake.verifier.averify(parts.document, cms, Policy(classes=ALL_CLASSES), bounds)
        for cms in parts.signatures
    ]
    if not reports:
        raise SignatureRejected("A withdrawal must be signed.")
    judge_signatures(reports, 1)
    if not _same_signer(locked.signer_identity, [identity(r) for r in reports]):
        raise SignatureRejected("A withdrawal must be signed by the applicant who signed the application.")
    if await queries.consume_nonce(conn, request.nonce, version_id) is None:
        raise NonceInvalid("The nonce in the withdrawal is unknown, already used, or expired.")
    await conn.execute(queries.SET_STATUS, row.id, status)
    await queries.event(conn, row.id, None, "withdrawn", request.reason or None)
    await trail.record(
        conn, actor="applicant", role="applicant", agency=locked.agency_code, action="submission.withdrawn",
        subject=str(row.id), at=intake.now,
    )  # fmt: skip
    refreshed = await queries.submission(conn, row.id)
    assert refreshed is not None
    return await view(conn, refreshed)


async def reverify_pending(
    conn: asyncpg.Connection, verifier: Verifier, now: dt.datetime, limit: int = 100
) -> dict[str, int]:
    """Re-judge signatures that waited for revocation data, now that fresher data may be in."""
    outcome = {"passed": 0, "pending": 0, "failed": 0}
    for row in await conn.fetch(queries.SELECT_PENDING, limit):
        schema = msgspec.convert(row["schema"], FormSchema)
        procedure = await catalog_queries.get_procedure(conn, row["procedure_id"])
        assert procedure is not None
        policy, required = signature_policy(schema, procedure.digital_policy)
        bounds = Bounds(validation_time=now, signed_after=row["nonce_issued_at"], signed_before=row["received_at"])
        signatures = [r["cms"] for r in await conn.fetch(queries.SELECT_SIGNATURES, row["id"])]
        reports = [verifier.verify(row["document"], cms, policy, bounds) for cms in signatures]
        try:
            verification = judge_signatures(reports, required)
        except SignatureRejected as exc:
            failed = Verification(
                status="failed", indication="TOTAL_FAILED", sub_indication=None, signers=[_summary(r) for r in reports]
            )
            await conn.execute(queries.SET_VERIFICATION, row["id"], "failed", msgspec.to_builtins(failed))
            current = await queries.submission(conn, row["submission_id"], lock=True)
            assert current is not None
            status = current.status
            if (current.status, "signature_failed") in workflow.STEPS:
                status = workflow.advance(current.status, "signature_failed")
                await conn.execute(queries.SET_STATUS, row["submission_id"], status)
            await queries.event(conn, row["submission_id"], row["id"], "signature_invalid", exc.detail)
            await trail.record(
                conn, actor="system", role="system", agency=current.agency_code, action="submission.signature_invalid",
                subject=str(current.id), details={"from": current.status, "to": status}, at=now,
            )  # fmt: skip
            outcome["failed"] += 1
            continue
        if verification.status == "passed":
            await conn.execute(queries.SET_VERIFICATION, row["id"], "passed", msgspec.to_builtins(verification))
            await queries.event(conn, row["submission_id"], row["id"], "verification_passed")
            await trail.record(
                conn, actor="system", role="system", agency=row["agency_code"], action="submission.verification_passed",
                subject=str(row["submission_id"]), at=now,
            )  # fmt: skip
        outcome[verification.status] += 1
    return outcome
