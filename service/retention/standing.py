"""Where one application stands in its retention: the rule, the end of its period, a hold, its tombstone.

This view outlives the content: after a purge, the applicant (with the access token) and the
agency's staff (also by receipt number) still see the receipt numbers, the dates, the final status,
when it was purged and the SHA-256 of every object deleted, to match a receipt kept on paper or disk.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from service.access import APPLICANT_TOKEN_PREFIX, STAFF, applicant
from service.audit import trail
from service.auth import tokens
from service.auth.principal import require_role, resolve_token
from service.auth.schemas import Principal
from service.problems import NotFound, Unauthenticated
from service.retention import holds, queries, tombstones
from service.retention.schemas import Retention, RetentionOut


async def caller(conn: asyncpg.Connection, submission_id: uuid.UUID, authorization: str | None) -> Principal | None:
    """The applicant (None, after the access token matched) or a member of staff (not yet agency-checked).

    The credentials of the application's other views (service.access), without their refusal of a
    purged application: a purge keeps the access token's hash (a credential, not personal data), so
    its applicant can still read this.
    """
    token = tokens.bearer(authorization)
    if token is None:
        raise Unauthenticated("Send the submission's access token, or a staff token, as a bearer token.")
    if token.startswith(APPLICANT_TOKEN_PREFIX):
        await applicant(conn, submission_id, token)
        return None
    return require_role(await resolve_token(token, conn), *STAFF)


async def standing(
    conn: asyncpg.Connection, submission_id: uuid.UUID, staff: Principal | None, now: dt.datetime
) -> RetentionOut:
    """The retention view; the hold's reason only for staff. Reading it is audited, as every view is."""
    row = await queries.schedule_of(conn, submission_id)
    if row is None or (staff is not None and staff.agency_code != row["agency_code"]):
        raise NotFound(f"There is no submission {submission_id}.")
    hold = await holds.active(conn, submission_id)
    await trail.record(
        conn, actor="applicant" if staff is None else str(staff.token_id),
        role="applicant" if staff is None else staff.role, agency=row["agency_code"], action="retention.viewed",
        subject=str(submission_id), at=now,
    )  # fmt: skip
    return RetentionOut(
        submission_id=submission_id,
        status=row["status"],
        retention=Retention(years=row["years"], start=row["start"], source=row["source"]),
        retain_until=row["retain_until"],
        on_hold=hold is not None,
        hold=hold if staff is not None else None,
        purged=await tombstones.find(conn, submission_id),
    )


async def by_receipt(conn: asyncpg.Connection, who: Principal, receipt_number: str, now: dt.datetime) -> RetentionOut:
    """Staff look an old receipt up by its number; another agency's is absent (404)."""
    require_role(who, *STAFF)
    submission_id = await queries.submission_by_receipt(conn, receipt_number)
    if submission_id is None:
        raise NotFound(f"There is no receipt {receipt_number}.")
    try:
        return await standing(conn, submission_id, who, now)
    except NotFound:
        raise NotFound(f"There is no receipt {receipt_number}.") from None
