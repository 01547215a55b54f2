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
import uuid
from typing import Any, Final

import asyncpg
import msgspec
from pyhanko.sign.timestamps import TimeStamper

from forms.schema import AttachmentField, FormSchema, GroupField
from service.agencies import queries as agency_queries
from service.audit import trail
from service.catalog.schemas import DigitalPolicy
from service.metrics.collectors import Metrics
from service.offload import cpu_bound
from service.problems import (
    DuplicateSubmission,
    FormInvalid,
    IdempotencyMismatch,
    NonceInvalid,
    NotFound,
    ProblemError,
    ServiceUnavailable,
    SignatureRejected,
    StateConflict,
    Unauthenticated,
    VersionState,
)
from service.proxy import service as proxy
from service.publishing.cache import CompiledForms
from service.submissions import queries, workflow
from service.submissions.attachments import AttachmentStore, content_problem, pdf_signatures
from service.submissions.identity import fold as _fold
from service.submissions.identity import identity
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
from service.trust import service as trust_service
from service.trust.service import Ask
from service.validation import FieldProblem
from signing.fonts import Typeface
from signing.jpki import CertificateClass
from signing.receipt_keys import ReceiptKey
from signing.receipt_pdf import Presentation, render_pdf
from signing.receipts import AttachmentDigest, DecisionNotice, Receipt, Statement, sign_receipt
from signing.report import VerificationReport
from signing.timestamps import SignatureTimestamp, TimestampUnavailable, stamp_signature, token_time
from signing.verify import Bounds, Policy, Verifier

RECEIPT_CHAIN_PATH: Final = "/api/v1/receipts/certificate"
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
    proxy: proxy.Documents = proxy.Documents()
    """Filing on someone's behalf: a mandate (委任状) or a professional's statement, each with its signature."""


class Intake(msgspec.Struct, frozen=True, kw_only=True):
    """What intake needs besides the connection: passed in, never global."""

    compiled: CompiledForms
    verifier: Verifier
    receipt_key: ReceiptKey
    attachments: AttachmentStore
    now: dt.datetime
    accept_test: bool = False
    """Development only: test anchors (``shinsei dev card``) count, and their submissions are marked."""
    confirmation_grace: dt.timedelta = dt.timedelta(0)
    ask_ocsp: Ask | None = None
    """Asks an anchor's OCSP responder, for procedures that require confirmed revocation at once."""
    timestamper: TimeStamper | None = None
    """An RFC 3161 service: receipts and applicant signatures (CAdES-T) are time-stamped when set."""
    metrics: Metrics | None = None


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


def signature_policy(
    schema: FormSchema, digital_policy: DigitalPolicy, accept_test: bool = False
) -> tuple[Policy, int]:
    """The form narrows the classes; a procedure that needs a qualified signature narrows them further."""
    accept = frozenset(schema.signature.accept) if schema.signature else ALL_CLASSES
    if digital_policy.signature == "qualified":
        accept &= QUALIFIED_CLASSES
    return Policy(classes=accept, accept_test=accept_test), (schema.signature.signers if schema.signature else 1)


def _summary(report: VerificationReport) -> SignerSummary:
    name = report.holder.name if report.holder else (report.signer.subject if report.signer else None)
    return SignerSummary(
        indication=report.indication,
        sub_indication=report.sub_indication,
        certificate_class=report.signer.certificate_class if report.signer else None,
        name=name,
    )


def judge_signatures(reports: list[VerificationReport], required: int, require_confirmed: bool = False) -> Verification:
    """All must pass, or be waiting for revocation data only; and enough distinct people must sign.

    A pass whose revocation data predates the signature is a pass (EN 319 102-1's default), marked
    unconfirmed; a procedure that requires confirmation keeps it pending until data issued after the
    signature says the same.
    """
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
    confirmed = all(r.confirmed for r in reports)
    pending = any(r.retryable for r in reports) or (require_confirmed and not confirmed)
    return Verification(
        status="pending" if pending else "passed",
        indication="INDETERMINATE" if pending else "TOTAL_PASSED",
        sub_indication="TRY_LATER" if pending else None,
        signers=signers,
        confirmed=confirmed,
        test=any(r.test for r in reports),
    )


async def timestamps(signatures: list[bytes], timestamper: TimeStamper | None) -> list[SignatureTimestamp | None]:
    """CAdES-T: a time-stamp over each applicant signature, when a TSA is configured.

    The agency chose to keep this evidence, so a TSA that does not answer makes intake answer 503
    (the applicant retries the same signed bytes) rather than accept an application without it.
    """
    if timestamper is None:
        return [None] * len(signatures)
    try:
        return [await stamp_signature(signature, timestamper) for signature in signatures]
    except TimestampUnavailable:
        raise ServiceUnavailable(
            "The time-stamping service did not answer; send the same signed application again shortly.",
            retry_after=30,
        ) from None


def _confirmable(report: VerificationReport) -> bool:
    """Passed on data that predates it, or waiting for data: an OCSP answer issued now may settle it."""
    return (report.passed and not report.confirmed) or report.retryable


def declared_attachments(schema: FormSchema, answers: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
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
    for path, pointer, answer in declared_attachments(schema, answers):
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
    """What a clerk should know of a revision: its flags, whether its signatures wait, and for what.

    ``verification_pending``: for revocation data at all (or, where the procedure requires it, for
    confirmation); ``revocation_unconfirmed``: passed on current data, confirmation to come;
    ``test_signature``: a test certificate signed it.
    """
    opened = list(flags)
    if verification.status == "pending":
        opened.append("verification_pending")
    elif verification.status == "passed" and not verification.confirmed:
        opened.append("revocation_unconfirmed")
    if verification.test:
        opened.append("test_signature")
    return opened


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


class Pinned(msgspec.Struct, frozen=True, kw_only=True):
    """The document, read and validated against the published version it names."""

    head: dict[str, Any]
    document_sha256: bytes
    state: queries.IntakeState
    schema: FormSchema

    @property
    def version(self) -> queries.VersionRow:
        return self.state.version


async def _pinned_version(conn: asyncpg.Connection, parts: Parts, intake: Intake) -> Pinned:
    """The published version the document names, the document validated against it, and the nonce's state.

    One round trip (``INTAKE_STATE``); the stored schema is fetched and parsed only when this process
    has not compiled that version yet.
    """
    try:
        head = _decoder.decode(parts.document)
    except msgspec.DecodeError as exc:
        raise _invalid_form([FieldProblem(pointer="", code="malformed", detail=f"not JSON: {exc}")]) from None
    form_id = head.get("form_id") if isinstance(head, dict) else None
    number = head.get("form_version") if isinstance(head, dict) else None
    nonce = head.get("nonce") if isinstance(head, dict) else None
    document_sha256 = hashlib.sha256(parts.document).digest()
    state = None
    if isinstance(form_id, str) and type(number) is int and -(2**31) <= number < 2**31:
        state = await queries.intake_state(
            conn, form_id, number, nonce if isinstance(nonce, str) else None, document_sha256,
            schema=not intake.compiled.has_version(form_id, number),
        )  # fmt: skip
    if state is None or state.version.status == "draft":
        raise _invalid_form(
            [FieldProblem(pointer="/form_id", code="unknown_form", detail="no such published form version")]
        )
    version = state.version
    if version.status != "published":
        raise _invalid_form(
            [FieldProblem(pointer="/form_version", code="not_accepting", detail="this version is retired")],
            form_version_status=version.status,
        )
    digest = version.sha256.hex() if version.sha256 else ""
    compiled = intake.compiled.cached(str(form_id), version.version, digest)
    if compiled is None:
        stored = version.schema if version.schema is not None else await queries.version_schema(conn, version.id)
        compiled = await intake.compiled.aget(msgspec.convert(stored, FormSchema), version.version, digest)
    if errors := await cpu_bound(len(parts.document), compiled.validate, parts.document):
        raise _invalid_form([FieldProblem(pointer=e.pointer, code=e.code, detail=e.detail) for e in errors])
    return Pinned(head=head, document_sha256=document_sha256, state=state, schema=compiled.schema)


class _Labels(msgspec.Struct):
    """What intake learns on its way that the submission counter is labelled with; a fixed set of values."""

    procedure: str = "unknown"
    outcome: str = "internal-error"  # what a bug (an exception that is no problem) is counted as


async def submit(conn: asyncpg.Connection, parts: Parts, intake: Intake, idempotency_key: str | None) -> dict[str, Any]:
    """Take one signed document; returns the 201 body (the stored one again for a repeated key).

    Counted by procedure and outcome (``accepted``, ``pending``, ``replayed`` or the problem's slug)
    when intake returns; the procedure is ``unknown`` until the named form version is found, so a
    client cannot mint label values.
    """
    labels = _Labels()
    try:
        body = await _submit(conn, parts, intake, idempotency_key, labels)
    except ProblemError as exc:
        labels.outcome = exc.slug
        raise
    finally:
        if intake.metrics is not None:
            intake.metrics.submissions.labels(procedure=labels.procedure, outcome=labels.outcome).inc()
    return body


async def _submit(
    conn: asyncpg.Connection, parts: Parts, intake: Intake, idempotency_key: str | None, labels: _Labels
) -> dict[str, Any]:
    """The pipeline: read, verify, decide, write once.

    Round trips for a new application: the idempotency record (only when a key is sent), the
    intake state (form version, nonce, duplicate), a receipt number (a sequence: no lock), and one
    statement that writes everything; then COMMIT. No lock is taken before that last statement.
    """
    # Only a request that carries a key is hashed whole (attachments may be tens of MiB).
    size = len(parts.document) + sum(len(s) for s in parts.signatures) + sum(len(a.content) for a in parts.attachments)
    digest = await cpu_bound(size, request_digest, parts) if idempotency_key is not None else b""
    if (replay := await _idempotent_reply(conn, idempotency_key, digest)) is not None:
        labels.outcome = "replayed"
        return replay
    pinned = await _pinned_version(conn, parts, intake)
    version, schema, head = pinned.version, pinned.schema, pinned.head
    labels.procedure = version.procedure_id
    if not parts.signatures:
        raise SignatureRejected("The document must be signed: send at least one signature part.")
    policy, required = signature_policy(schema, version.digital_policy(), intake.accept_test)
    policy = await proxy.widen(conn, version.procedure_id, policy, parts.proxy)
    require_confirmed = version.revocation == "confirmed"
    issued = pinned.state.nonce_issued_at
    tokens = await timestamps(parts.signatures, intake.timestamper)
    bounds = Bounds(
        validation_time=intake.now,
        signed_after=issued,
        signed_before=min((t.time for t in tokens if t is not None), default=None),
        confirmation_grace=intake.confirmation_grace,
    )
    reports = [await intake.verifier.averify(parts.document, cms, policy, bounds) for cms in parts.signatures]
    if require_confirmed and intake.ask_ocsp is not None and any(_confirmable(r) for r in reports):
        # Confirmation needs revocation data issued after the signature: the anchor's responder gives
        # it now, so the application need not wait for the next CRL.
        verifier = await trust_service.confirm_by_ocsp(
            conn, intake.verifier, [c for c, r in zip(parts.signatures, reports, strict=True) if _confirmable(r)],
            intake.ask_ocsp, intake.now,
        )  # fmt: skip
        reports = [await verifier.averify(parts.document, cms, policy, bounds) for cms in parts.signatures]
    verification = judge_signatures(reports, required, require_confirmed)
    filing = await proxy.check_filing(
        conn, version.procedure_id, parts.proxy, reports,
        verifier=intake.verifier, now=intake.now, accept_test=intake.accept_test,
    )  # fmt: skip
    answers = head["answers"]
    # Hashing tens of MiB and opening PDFs: off the loop (hashlib lets go of the GIL while it hashes).
    size = sum(len(u.content) for u in parts.attachments)
    paired = await cpu_bound(size, match_attachments, schema, answers, parts.attachments)
    # The same bytes carry the same nonce: the duplicate is named before the used nonce.
    if (original := pinned.state.duplicate_of) is not None:
        raise DuplicateSubmission(
            "These exact document bytes were already submitted.",
            extensions={"links": {"original": f"/api/v1/submissions/{original}"}},
        )
    if issued is None:
        raise _nonce_invalid()
    # Filed on someone's behalf, the answers name the principal; the principal may withdraw and amend too.
    principal = [filing.principal_report] if filing is not None and filing.principal_report is not None else []
    flags = _binding_flags(schema, answers, reports + principal)
    signers = [identity(r) for r in reports]
    holders = signers + [identity(r) for r in principal]
    token: str | None = None
    if head.get("amends") is None:
        submission_id, revision = uuid.uuid4(), 1
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    else:
        submission_id, revision = await _amend(conn, head["amends"], signers, schema.id)
    sequence = await queries.next_receipt_number(conn, version.agency_code, intake.now.year)
    receipt_number = f"{version.agency_code}-{intake.now.year}-{sequence:06d}"
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
    stored = await _store_revision(
        conn, intake, parts, pinned, submission_id, revision, receipt_number, verification, flags, reports, paired,
        new_submission=(hashlib.sha256(token.encode()).digest(), holders) if token else None,
        tokens=[t.token if t is not None else None for t in tokens],
        idempotency=(idempotency_key, digest, body) if idempotency_key is not None else None,
        parties=proxy.receipt_parties(filing) if filing else None,
    )  # fmt: skip
    if not stored:
        raise _nonce_invalid()  # consumed by a concurrent submission since it was read
    if filing is not None and token is not None:
        await proxy.record(conn, submission_id, filing)
    labels.outcome = "pending" if verification.status == "pending" else "accepted"
    return body


def _nonce_invalid() -> NonceInvalid:
    return NonceInvalid("The nonce in the document is unknown, already used, expired, or for another form version.")


async def _store_revision(
    conn: asyncpg.Connection,
    intake: Intake,
    parts: Parts,
    pinned: Pinned,
    submission_id: uuid.UUID,
    revision: int,
    receipt_number: str,
    verification: Verification,
    flags: list[str],
    reports: list[VerificationReport],
    paired: list[tuple[str, dict[str, Any], Upload]],
    *,
    new_submission: tuple[bytes, list[dict[str, Any]]] | None,
    tokens: list[bytes | None],
    idempotency: tuple[str, bytes, dict[str, Any]] | None,
    parties: dict[str, Any] | None = None,
) -> bool:
    """The signed receipt, then every row of the revision in one statement; False if the nonce was taken.

    A proxy filing's receipt names its agent and principal.
    """
    version, head = pinned.version, pinned.head
    receipt = Receipt(
        receipt_number=receipt_number,
        submission_id=str(submission_id),
        agency=version.agency_code,
        form_id=str(head["form_id"]),
        form_version=version.version,
        document_sha256=pinned.document_sha256.hex(),
        attachments=[
            AttachmentDigest(field=path, filename=str(a["filename"]), sha256=str(a["sha256"])) for path, a, _ in paired
        ],
        signatures_sha256=[hashlib.sha256(s).hexdigest() for s in parts.signatures],
        received_at=intake.now,
        verification=verification.indication,
        test=verification.test,
        **(parties or {}),
    )
    try:
        receipt_json, receipt_cms = await sign_receipt(receipt, intake.receipt_key.signer, intake.timestamper)
    except TimestampUnavailable:
        raise ServiceUnavailable(
            "The time-stamping service did not answer; send the same signed application again shortly.",
            retry_after=30,
        ) from None
    pdf_reports = [await pdf_signatures(upload.content, intake.verifier.store) for _, _, upload in paired]
    report_texts = [msgspec.json.encode(r).decode() if r is not None else None for r in pdf_reports]
    token_hash, signers = new_submission if new_submission is not None else (None, None)
    events = ["received" if revision == 1 else "amended"] + (
        ["verification_pending"] if verification.status == "pending" else []
    )
    key, request_sha256, response = idempotency if idempotency is not None else (None, b"", None)
    return await queries.insert_revision(
        conn,
        queries.NewRevision(
            revision_id=uuid.uuid4(), submission_id=submission_id, number=revision, form_version_id=version.id,
            nonce=str(head["nonce"]), document=parts.document, document_sha256=pinned.document_sha256,
            received_at=intake.now, verification_status=verification.status,
            verification=msgspec.to_builtins(verification), binding_flags=flags, receipt_number=receipt_number,
            receipt_json=receipt_json, receipt_cms=receipt_cms, confirmed=verification.confirmed,
            agency_code=version.agency_code, procedure_id=version.procedure_id, form_id=str(head["form_id"]),
            access_token_hash=token_hash, signer_identity=signers, open_flags=open_flags(flags, verification),
            signatures=parts.signatures, signature_sha256=[hashlib.sha256(s).digest() for s in parts.signatures],
            reports=[msgspec.to_builtins(r) for r in reports], timestamp_tokens=tokens, events=events,
            attachment_fields=[path for path, _, _ in paired],
            attachment_filenames=[str(a["filename"]) for _, a, _ in paired],
            attachment_media_types=[str(a["media_type"]) for _, a, _ in paired],
            attachment_sizes=[len(u.content) for _, _, u in paired],
            attachment_sha256=[hashlib.sha256(u.content).digest() for _, _, u in paired],
            attachment_contents=[u.content for _, _, u in paired], attachment_reports=report_texts,
            audit_action="submission.received" if revision == 1 else "submission.amended",
            audit_details={"revision": revision, "receipt_number": receipt_number, "verification": verification.status},
            idempotency_key=key, idempotency_request_sha256=request_sha256, response=response,
        ),
    )  # fmt: skip


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


async def presentation(conn: asyncpg.Connection, statement: Statement) -> Presentation:
    """What the PDF says besides the signed statement.

    The names come from the catalogue and from the signatures as verified; the addresses are where the
    signed JSON and the agency's chain are published, so that a reader can check the paper offline.
    """
    agency = await agency_queries.get_agency(conn, statement.agency)
    procedure_name = await queries.receipt_procedure_name(conn, statement.receipt_number)
    reports = [
        msgspec.convert(report, VerificationReport)
        for report in await queries.receipt_signer_reports(conn, statement.receipt_number)
    ]
    submission_links = links(uuid.UUID(statement.submission_id), decided=isinstance(statement, DecisionNotice))
    return Presentation(
        agency_name=agency.name_ja if agency else statement.agency,
        procedure_name=procedure_name or statement.form_id,
        applicants=[name for report in reports if (name := _summary(report).name)],
        statement_url=submission_links.decision_notice or submission_links.receipt,
        chain_url=RECEIPT_CHAIN_PATH,
        test=any(report.test for report in reports),
    )


async def print_statement(conn: asyncpg.Connection, statement: Statement, key: ReceiptKey, typeface: Typeface) -> bytes:
    """The signed PDF of a receipt or a decision notice, written for the person who reads it."""
    return await render_pdf(statement, await presentation(conn, statement), key.signer, typeface)


async def receipt_pdf(conn: asyncpg.Connection, revision: asyncpg.Record, key: ReceiptKey, typeface: Typeface) -> bytes:
    """A revision's receipt PDF: rendered on first request, then kept (the JSON and its CMS are the receipt)."""
    pdf: bytes | None = revision["receipt_pdf"]
    if pdf is None:
        receipt = msgspec.json.decode(revision["receipt_json"], type=Receipt)
        pdf = await print_statement(conn, receipt, key, typeface)
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
    conn: asyncpg.Connection,
    verifier: Verifier,
    now: dt.datetime,
    limit: int = 100,
    *,
    accept_test: bool = False,
    grace: dt.timedelta = dt.timedelta(0),
) -> dict[str, int]:
    """Judge again the signatures that wait for revocation data, or for its confirmation.

    One query brings the due revisions with their signatures and policies; verification runs off the
    loop. A revision whose verdict is now confirmed keeps the confirming CRL or OCSP answer in its
    reports (the evidence bundle finds it there); one whose signatures now fail moves the application
    to ``signature_invalid`` where the state machine allows it.
    """
    outcome = {"passed": 0, "pending": 0, "failed": 0, "confirmed": 0}
    for row in await conn.fetch(queries.SELECT_UNSETTLED, limit):
        schema = msgspec.convert(row["schema"], FormSchema)
        policy, required = signature_policy(schema, queries.digital_policy(row), accept_test)
        stamped = [token_time(t) for t in row["tokens"] if t is not None]
        bounds = Bounds(
            validation_time=now,
            signed_after=row["nonce_issued_at"],
            signed_before=min([row["received_at"], *stamped]),
            confirmation_grace=grace,
        )
        reports = [await verifier.averify(row["document"], cms, policy, bounds) for cms in row["signatures"]]
        try:
            verification = judge_signatures(reports, required, row["revocation"] == "confirmed")
        except SignatureRejected as exc:
            await _signature_failed(conn, row, reports, exc.detail, now)
            outcome["failed"] += 1
            continue
        was_pending = row["verification_status"] == "pending"
        if verification.status == "pending" and was_pending:
            outcome["pending"] += 1
            continue
        if verification.status == "passed" and not was_pending and not verification.confirmed:
            continue  # still passed on current data: nothing new to record
        await conn.execute(
            queries.SET_VERIFICATION, row["id"], verification.status, msgspec.to_builtins(verification),
            verification.confirmed, [msgspec.to_builtins(r) for r in reports],
            open_flags(list(row["flags"]), verification), row["latest"],
        )  # fmt: skip
        if was_pending and verification.status == "passed":
            await queries.event(conn, row["submission_id"], row["id"], "verification_passed")
            await trail.record(
                conn, actor="system", role="system", agency=row["agency_code"], action="submission.verification_passed",
                subject=str(row["submission_id"]), at=now,
            )  # fmt: skip
            outcome["passed"] += 1
        if verification.confirmed:
            await queries.event(conn, row["submission_id"], row["id"], "signature_confirmed")
            await trail.record(
                conn, actor="system", role="system", agency=row["agency_code"], action="submission.signature_confirmed",
                subject=str(row["submission_id"]), details={"revision": row["number"]}, at=now,
            )  # fmt: skip
            outcome["confirmed"] += 1
    return outcome


async def _signature_failed(
    conn: asyncpg.Connection, row: asyncpg.Record, reports: list[VerificationReport], detail: str, now: dt.datetime
) -> None:
    failed = Verification(
        status="failed", indication="TOTAL_FAILED", sub_indication=None, signers=[_summary(r) for r in reports]
    )
    await conn.execute(
        queries.SET_VERIFICATION, row["id"], "failed", msgspec.to_builtins(failed), False,
        [msgspec.to_builtins(r) for r in reports], list(row["flags"]), row["latest"],
    )  # fmt: skip
    current = await queries.submission(conn, row["submission_id"], lock=True)
    assert current is not None
    status = current.status
    if (current.status, "signature_failed") in workflow.STEPS:
        status = workflow.advance(current.status, "signature_failed")
        await conn.execute(queries.SET_STATUS, row["submission_id"], status)
    await queries.event(conn, row["submission_id"], row["id"], "signature_invalid", detail)
    await trail.record(
        conn, actor="system", role="system", agency=current.agency_code, action="submission.signature_invalid",
        subject=str(current.id), details={"from": current.status, "to": status}, at=now,
    )  # fmt: skip
