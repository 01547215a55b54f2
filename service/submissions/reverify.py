"""The background job that judges again the signatures that wait for revocation data or its confirmation.

One query reads a batch of due revisions (with their signatures and policies, ``SELECT_UNSETTLED``),
verification runs off the loop, and one statement writes every outcome of the batch
(``SETTLE_REVISIONS``): verdicts, reports, open flags, moves to ``signature_invalid``, timeline
events and audit events.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import msgspec

from forms.schema import FormSchema
from service.mynumber import documents as my_number_documents
from service.mynumber.keystore import KeyStore
from service.problems import SignatureRejected
from service.submissions import queries, workflow
from service.submissions.schemas import Verification
from service.submissions.signatures import judge_signatures, open_flags, signature_policy, summary
from signing.timestamps import token_time
from signing.verify import Bounds, Verifier

#: Where a failed signature may move an application (the state machine's ``signature_failed`` step).
FAILABLE: list[str] = sorted(status for status, action in workflow.STEPS if action == "signature_failed")


class Settled(msgspec.Struct, kw_only=True):
    """What one batch writes, column by column (``queries.SETTLE_REVISIONS``'s parameters)."""

    revision_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    statuses: list[str] = msgspec.field(default_factory=list)
    verifications: list[dict[str, Any]] = msgspec.field(default_factory=list)
    confirmed: list[bool] = msgspec.field(default_factory=list)
    reports: list[list[dict[str, Any]]] = msgspec.field(default_factory=list)
    """Each revision's reports (the whole sent as one JSON value, as are ``flags`` and ``audit_details``:
    asyncpg would read a list of lists as a two-dimensional array)."""
    submission_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    """Submissions whose flags or status change, once each."""
    flags: list[list[str] | None] = msgspec.field(default_factory=list)
    """Their new open flags (None: unchanged, the revision judged is not the latest)."""
    failed: list[bool] = msgspec.field(default_factory=list)
    failed_details: list[str | None] = msgspec.field(default_factory=list)
    failed_revisions: list[uuid.UUID | None] = msgspec.field(default_factory=list)
    event_submissions: list[uuid.UUID] = msgspec.field(default_factory=list)
    event_revisions: list[uuid.UUID] = msgspec.field(default_factory=list)
    event_kinds: list[str] = msgspec.field(default_factory=list)
    audit_agencies: list[str] = msgspec.field(default_factory=list)
    audit_actions: list[str] = msgspec.field(default_factory=list)
    audit_subjects: list[str] = msgspec.field(default_factory=list)
    audit_details: list[dict[str, Any]] = msgspec.field(default_factory=list)

    def verdict(self, row: asyncpg.Record, verification: Verification, reports: list[dict[str, Any]]) -> None:
        self.revision_ids.append(row["id"])
        self.statuses.append(verification.status)
        self.verifications.append(msgspec.to_builtins(verification))
        self.confirmed.append(verification.confirmed)
        self.reports.append(reports)

    def submission(self, row: asyncpg.Record, flags: list[str] | None, *, failed: str | None = None) -> None:
        submission_id = row["submission_id"]
        if submission_id in self.submission_ids:  # two revisions of one application in a batch
            at = self.submission_ids.index(submission_id)
            self.flags[at] = flags if flags is not None else self.flags[at]
            if failed is not None:
                self.failed[at], self.failed_details[at], self.failed_revisions[at] = True, failed, row["id"]
            return
        self.submission_ids.append(submission_id)
        self.flags.append(flags)
        self.failed.append(failed is not None)
        self.failed_details.append(failed)
        self.failed_revisions.append(row["id"] if failed is not None else None)

    def happened(self, row: asyncpg.Record, kind: str, details: dict[str, Any] | None = None) -> None:
        self.event_submissions.append(row["submission_id"])
        self.event_revisions.append(row["id"])
        self.event_kinds.append(kind)
        self.audit_agencies.append(row["agency_code"])
        self.audit_actions.append(f"submission.{kind}")
        self.audit_subjects.append(str(row["submission_id"]))
        self.audit_details.append(details or {})


async def reverify_pending(
    conn: asyncpg.Connection,
    verifier: Verifier,
    now: dt.datetime,
    limit: int = 100,
    *,
    accept_test: bool = False,
    grace: dt.timedelta = dt.timedelta(0),
    keys: KeyStore | None = None,
) -> dict[str, int]:
    """Judge again the signatures that wait for revocation data, or for its confirmation.

    A revision whose verdict is now confirmed keeps the confirming CRL or OCSP answer in its reports
    (the evidence bundle finds it there); one whose signatures now fail moves the application to
    ``signature_invalid`` where the state machine allows it.
    """
    outcome = {"passed": 0, "pending": 0, "failed": 0, "confirmed": 0}
    settled = Settled()
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
        # 個人番号 (issue #18): a sealed document is opened for verification alone; a purged one cannot be judged.
        document = await my_number_documents.for_verification(
            conn, keys, row["agency_code"], row["id"], row["document"], row["document_sha256"]
        )
        if document is None:
            continue
        reports = [await verifier.averify(document, cms, policy, bounds) for cms in row["signatures"]]
        as_json = [msgspec.to_builtins(r) for r in reports]
        try:
            verification = judge_signatures(reports, required, row["revocation"] == "confirmed")
        except SignatureRejected as exc:
            failed = Verification(
                status="failed", indication="TOTAL_FAILED", sub_indication=None, signers=[summary(r) for r in reports]
            )
            settled.verdict(row, failed, as_json)
            settled.submission(row, None, failed=exc.detail)
            outcome["failed"] += 1
            continue
        was_pending = row["verification_status"] == "pending"
        if verification.status == "pending" and was_pending:
            outcome["pending"] += 1
            continue
        if verification.status == "passed" and not was_pending and not verification.confirmed:
            continue  # still passed on current data: nothing new to record
        settled.verdict(row, verification, as_json)
        if row["latest"]:
            settled.submission(row, open_flags(list(row["flags"]), verification))
        if was_pending and verification.status == "passed":
            settled.happened(row, "verification_passed")
            outcome["passed"] += 1
        if verification.confirmed:
            settled.happened(row, "signature_confirmed", {"revision": row["number"]})
            outcome["confirmed"] += 1
    if settled.revision_ids:
        values = [getattr(settled, name) for name in Settled.__struct_fields__]
        await conn.execute(queries.SETTLE_REVISIONS, *values, FAILABLE, now)
    return outcome
