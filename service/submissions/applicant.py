"""The applicant's side of one application: its status and timeline, a nonce to sign with, withdrawal."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

import asyncpg
import msgspec

from service.audit import trail
from service.problems import (
    NonceInvalid,
    SignatureRejected,
    form_invalid,
)
from service.proxy import service as proxy
from service.submissions import queries, workflow
from service.submissions.identity import identity
from service.submissions.intake import Intake, Parts
from service.submissions.schemas import (
    Links,
    NonceOut,
    RevisionOut,
    SubmissionOut,
    TimelineEvent,
    Verification,
    WithdrawalDocument,
)
from service.submissions.signatures import (
    ALL_CLASSES,
    judge_signatures,
    same_signer,
)
from service.validation import FieldProblem
from signing.verify import Bounds, Policy


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
        status=row.status,
        revisions=revisions,
        timeline=await timeline(conn, row.id),
        links=Links.of(row.id, decided=await queries.decided(conn, row.id)),
        proxy=await proxy.filed_on_behalf(conn, row.id),
    )


async def timeline(conn: asyncpg.Connection, submission_id: uuid.UUID) -> list[TimelineEvent]:
    """What happened to an application, as its applicant sees it (no internal comments)."""
    return [
        TimelineEvent(kind=e["kind"], at=e["at"], revision=e["revision"], message=e["message"], fields=e["fields"])
        for e in await conn.fetch(queries.SELECT_EVENTS, submission_id)
    ]


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
        raise form_invalid([FieldProblem(pointer="", code="invalid", detail=str(exc))]) from None
    if request.submission_id != row.id:
        raise form_invalid([FieldProblem(pointer="/submission_id", code="mismatch", detail=f"must be {row.id}")])
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
    if not same_signer(locked.signer_identity, [identity(r) for r in reports]):
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
