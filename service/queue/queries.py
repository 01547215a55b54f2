"""SQL for the queue: every query carries the agency, and every list a limit."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Final, LiteralString

import asyncpg

from service.queue.schemas import Claimed, QueueRow

#: Oldest first; keyset on (created_at, id). The page is chosen from ``submission`` alone (which keeps
#: its latest revision's open flags, so a flag filter walks that flag's partial index), and only its
#: rows are joined to their latest revision, form version and procedure.
LIST_QUEUE_FOR_CLERK: Final[LiteralString] = """
    WITH page AS (
        SELECT s.id, s.form_id, s.procedure_id, s.status, s.created_at, s.assignee, s.flags, s.first_opened_at
        FROM submission s
        WHERE s.agency_code = $1
          AND ($2::text IS NULL OR s.status = $2)
          AND ($3::text IS NULL OR s.form_id = $3)
          AND ($4::text IS NULL OR s.procedure_id = $4)
          AND ($5::text = 'any' OR ($5 = 'me' AND s.assignee = $6) OR ($5 = 'none' AND s.assignee IS NULL))
          AND ($7::text IS NULL OR s.flags @> ARRAY[$7::text])
          AND ($8::timestamptz IS NULL OR s.created_at >= $8)
          AND ($9::timestamptz IS NULL OR s.created_at < $9)
          AND ($10::timestamptz IS NULL OR (s.created_at, s.id) > ($10, $11::uuid))
          AND ($13::text IS NULL
               OR EXISTS (SELECT 1 FROM proxy_filing f WHERE f.submission_id = s.id AND f.agent_key = $13))
        ORDER BY s.created_at, s.id
        LIMIT $12
    )
    SELECT s.id, r.receipt_number, s.form_id, v.schema -> 'title' ->> 'ja' AS form_title,
           s.procedure_id AS procedure, p.name_ja AS procedure_name, s.status, s.created_at AS received_at,
           s.assignee, r.verification -> 'signers' -> 0 ->> 'name' AS signer,
           r.verification ->> 'indication' AS verification, s.flags, s.first_opened_at IS NULL AS unread
    FROM page s
    JOIN LATERAL (SELECT * FROM revision WHERE submission_id = s.id ORDER BY number DESC LIMIT 1) r ON true
    JOIN form_version v ON v.id = r.form_version_id
    JOIN procedure p ON p.id = s.procedure_id
    ORDER BY s.created_at, s.id"""

#: The oldest unassigned received submission of the agency, taken without waiting for rows other
#: claimers hold: two clerks never get the same one, and neither blocks the other.
CLAIM_OLDEST: Final[LiteralString] = """
    WITH next AS (
        SELECT id FROM submission
        WHERE agency_code = $1 AND status = 'received' AND assignee IS NULL
        ORDER BY created_at, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    UPDATE submission s SET assignee = $2, status = 'under_review', updated_at = now()
    FROM next WHERE s.id = next.id
    RETURNING s.id, s.status,
              (SELECT receipt_number FROM revision WHERE submission_id = s.id
               ORDER BY number DESC LIMIT 1) AS receipt_number"""


#: The list query has optional filters written as ``$n IS NULL OR ...``: a generic plan cannot use the
#: indexes for them, so each run is planned with its values (about 0.1 ms) inside the request's transaction.
CUSTOM_PLAN: Final[LiteralString] = "SET LOCAL plan_cache_mode = force_custom_plan"


async def list_queue(
    conn: asyncpg.Connection,
    agency: str,
    me: uuid.UUID,
    *,
    status: str | None,
    form: str | None,
    procedure: str | None,
    assigned: str,
    flag: str | None,
    received_from: dt.datetime | None,
    received_to: dt.datetime | None,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    agent: str | None = None,
) -> list[QueueRow]:
    created, last_id = after or (None, None)
    await conn.execute(CUSTOM_PLAN)
    rows = await conn.fetch(
        LIST_QUEUE_FOR_CLERK, agency, status, form, procedure, assigned, me, flag, received_from, received_to,
        created, last_id, limit, agent,
    )  # fmt: skip
    return [QueueRow(**dict(r)) for r in rows]


async def claim_oldest(conn: asyncpg.Connection, agency: str, clerk: uuid.UUID) -> Claimed | None:
    row = await conn.fetchrow(CLAIM_OLDEST, agency, clerk)
    return None if row is None else Claimed(**dict(row))
