"""The background job that judges again the signatures that wait for revocation data or its confirmation."""

from __future__ import annotations

import datetime as dt

import asyncpg
import msgspec

from forms.schema import FormSchema
from service.audit import trail
from service.problems import (
    SignatureRejected,
)
from service.submissions import queries, workflow
from service.submissions.schemas import (
    Verification,
)
from service.submissions.signatures import (
    judge_signatures,
    open_flags,
    signature_policy,
    summary,
)
from signing.report import VerificationReport
from signing.timestamps import token_time
from signing.verify import Bounds, Verifier


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
        status="failed", indication="TOTAL_FAILED", sub_indication=None, signers=[summary(r) for r in reports]
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
