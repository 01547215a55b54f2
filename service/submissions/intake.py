"""Intake rules: validate, verify, match attachments, consume the nonce, store everything at once.

The order is the issue's: the document against its pinned published version, then every signature
against the form's and the procedure's policy, then the attachments, then the nonce, then every row
and the receipt at once. The connection has no transaction around it: a new application's rows are
one statement, committed when it returns; an amendment, a proxy filing or a sealed 個人番号 document
takes its statements in one transaction. Either way the 201 is sent only after the commit, and any
failure leaves nothing behind (a receipt number drawn from its sequence may go unused, see README).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
import uuid
from typing import Any, Final

import asyncpg
import msgspec
from pyhanko.sign.timestamps import TimeStamper

from forms.schema import FormSchema
from service.access import new_applicant_token
from service.metrics.collectors import Metrics
from service.mynumber import documents as my_number_documents
from service.mynumber.documents import carries_my_number
from service.mynumber.keystore import KeyStore
from service.offload import cpu_bound
from service.problems import (
    DuplicateSubmission,
    IdempotencyMismatch,
    NonceInvalid,
    NotFound,
    ProblemError,
    ServiceUnavailable,
    SignatureRejected,
    StateConflict,
    VersionState,
    form_invalid,
)
from service.proxy import service as proxy
from service.publishing.cache import CompiledForms
from service.submissions import queries, workflow
from service.submissions.attachments import (
    AttachmentStore,
    Upload,
    match_attachments,
    pdf_signatures,
)
from service.submissions.identity import fold, identity
from service.submissions.schemas import (
    Links,
    NonceOut,
    SubmissionCreated,
    Verification,
)
from service.submissions.signatures import (
    confirmable,
    judge_signatures,
    open_flags,
    same_signer,
    signature_policy,
    timestamps,
)
from service.trust import service as trust_service
from service.trust.service import Ask
from service.validation import FieldProblem
from signing.receipt_keys import ReceiptKey
from signing.receipts import AttachmentDigest, Receipt, sign_receipt
from signing.report import VerificationReport
from signing.timestamps import TimestampUnavailable
from signing.verify import Bounds, Verifier

_decoder: Final = msgspec.json.Decoder()


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
    my_number: KeyStore | None = None
    """Seals the documents of forms with a ``my_number`` field; None: such a form takes no submission."""


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


def _binding_flags(schema: FormSchema, answers: dict[str, Any], reports: list[VerificationReport]) -> list[str]:
    holders = [r.holder for r in reports if r.holder is not None]
    if not holders:
        return []
    for spec in schema.fields():
        if spec.binds is None or spec.id not in answers:
            continue
        answer = fold(str(answers[spec.id]))
        wanted = {
            "signer.name": [h.name for h in holders],
            "signer.address": [h.address for h in holders],
            "signer.birth_date": [h.birth_date.isoformat() if h.birth_date else None for h in holders],
        }[spec.binds]
        if all(value is None or fold(value) != answer for value in wanted):
            return ["identity_mismatch"]
    return []


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
        raise form_invalid([FieldProblem(pointer="", code="malformed", detail=f"not JSON: {exc}")]) from None
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
        raise form_invalid(
            [FieldProblem(pointer="/form_id", code="unknown_form", detail="no such published form version")]
        )
    version = state.version
    if version.status != "published":
        raise form_invalid(
            [FieldProblem(pointer="/form_version", code="not_accepting", detail="this version is retired")],
            form_version_status=version.status,
        )
    digest = version.sha256.hex() if version.sha256 else ""
    compiled = intake.compiled.cached(str(form_id), version.version, digest)
    if compiled is None:
        stored = version.schema if version.schema is not None else await queries.version_schema(conn, version.id)
        compiled = await intake.compiled.aget(msgspec.convert(stored, FormSchema), version.version, digest)
    if errors := await cpu_bound(len(parts.document), compiled.validate, parts.document):
        raise form_invalid([FieldProblem(pointer=e.pointer, code=e.code, detail=e.detail) for e in errors])
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
    # Inline below OFF_LOOP_BYTES (a card's signature over a form is a few KiB): a thread hand-off
    # per signature costs more than the check of a cached chain (bench/ingest.py's profile).
    reports = [
        await cpu_bound(len(parts.document) + len(cms), intake.verifier.verify, parts.document, cms, policy, bounds)
        for cms in parts.signatures
    ]
    if require_confirmed and intake.ask_ocsp is not None and any(confirmable(r) for r in reports):
        # Confirmation needs revocation data issued after the signature: the anchor's responder gives
        # it now, so the application need not wait for the next CRL.
        verifier = await trust_service.confirm_by_ocsp(
            conn, intake.verifier, [c for c, r in zip(parts.signatures, reports, strict=True) if confirmable(r)],
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
    # A new application without a filing or a 個人番号 is written by one statement, atomic on its own;
    # an amendment (its application locked until its revision is in), a proxy filing (its mandate
    # beside it) and a sealed document (its key record) need the statements after it in one transaction.
    atomic = head.get("amends") is not None or filing is not None or carries_my_number(schema)
    async with conn.transaction() if atomic else contextlib.nullcontext():
        token: str | None = None
        token_digest: bytes | None = None
        if head.get("amends") is None:
            submission_id, revision = uuid.uuid4(), 1
            token, token_digest = new_applicant_token()
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
                links=Links.of(submission_id),
            )
        )
        stored = await _store_revision(
            conn, intake, parts, pinned, submission_id, revision, receipt_number, verification, flags, reports, paired,
            new_submission=(token_digest, holders) if token_digest is not None else None,
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
    revision_id = uuid.uuid4()
    # 個人番号 (issue #18): a form with a my_number field has its signed bytes stored encrypted whole.
    sealed = await my_number_documents.seal(
        conn, intake.my_number, version.agency_code, pinned.schema, parts.document, head["answers"],
        pinned.document_sha256,
    )  # fmt: skip
    stored = await queries.insert_revision(
        conn,
        queries.NewRevision(
            revision_id=revision_id, submission_id=submission_id, number=revision, form_version_id=version.id,
            nonce=str(head["nonce"]), document=sealed.document if sealed else parts.document,
            document_sha256=pinned.document_sha256,
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
    if stored and sealed is not None:
        await my_number_documents.record(conn, revision_id, version.agency_code, sealed)  # issue #18
    return stored


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
    if not same_signer(row.signer_identity, signers):
        raise SignatureRejected("An amendment must be signed by the applicant who signed the application.")
    await conn.execute(queries.SET_STATUS, submission_id, status)
    return submission_id, latest["number"] + 1
