"""SQL of retention: the schedule of each application, legal holds, the purge and its tombstone."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, LiteralString

import asyncpg

#: The statuses that end an application (service/submissions/workflow.py ``FINAL``); only these are purged.
FINAL_STATUSES: Final = ("approved", "rejected", "withdrawn")

#: Each application with the rule that applies to it (the procedure's, else its agency's) and the
#: end of its period. ``closed_at`` is when it reached its final state: the decision, or the
#: withdrawal. Open applications have no end yet (NULL).
_SCHEDULE: Final = """
    SELECT s.id, s.agency_code, s.procedure_id, s.status, s.created_at AS received_at, s.purged_at, c.closed_at,
           rule.years, rule.start, rule.source,
           retention_until(CASE WHEN c.closed_at IS NULL THEN NULL WHEN rule.start = 'received' THEN s.created_at
                                ELSE c.closed_at END, rule.years) AS retain_until
    FROM submission s
    JOIN procedure p ON p.id = s.procedure_id
    JOIN agency a ON a.code = s.agency_code
    CROSS JOIN LATERAL (
        SELECT COALESCE(p.retention_years, a.retention_years) AS years,
               COALESCE(p.retention_from, a.retention_from) AS start,
               CASE WHEN p.retention_years IS NULL THEN 'agency' ELSE 'procedure' END AS source
    ) rule
    CROSS JOIN LATERAL (
        SELECT CASE WHEN s.status IN ('approved', 'rejected', 'withdrawn') THEN COALESCE(
            (SELECT d.decided_at FROM decision d WHERE d.submission_id = s.id),
            (SELECT max(e.at) FROM submission_event e WHERE e.submission_id = s.id AND e.kind = 'withdrawn'),
            s.updated_at) END AS closed_at
    ) c"""

#: Closed, not purged, past the end of the period at $1. Every period ends at least a year after
#: receipt, so the partial index submission_retention_idx narrows the walk to rows that old.
_DUE_WHERE: Final = """
    WHERE s.purged_at IS NULL AND s.status IN ('approved', 'rejected', 'withdrawn')
      AND s.created_at <= $1::timestamptz - interval '1 year'
      AND retention_until(CASE rule.start WHEN 'received' THEN s.created_at ELSE c.closed_at END, rule.years) <= $1"""

_NOT_HELD: Final = """
      AND NOT EXISTS (SELECT 1 FROM legal_hold h WHERE h.submission_id = s.id AND h.released_at IS NULL)"""

#: A batch to purge, locked: another run (another worker) skips what this one holds.
LOCK_DUE: Final[LiteralString] = f"""{_SCHEDULE} {_DUE_WHERE} {_NOT_HELD}
    ORDER BY s.created_at, s.id LIMIT $2 FOR UPDATE OF s SKIP LOCKED"""

#: The dry run's page: the same selection without locks, in keyset order after ($2, $3).
LIST_DUE: Final[LiteralString] = f"""{_SCHEDULE} {_DUE_WHERE} {_NOT_HELD}
      AND ($2::timestamptz IS NULL OR (s.created_at, s.id) > ($2, $3::uuid))
    ORDER BY s.created_at, s.id LIMIT $4"""

COUNT_HELD: Final[LiteralString] = f"""SELECT count(*) FROM ({_SCHEDULE} {_DUE_WHERE}
      AND EXISTS (SELECT 1 FROM legal_hold h WHERE h.submission_id = s.id AND h.released_at IS NULL)) due"""  # noqa: S608

SCHEDULE_OF: Final[LiteralString] = f"{_SCHEDULE} WHERE s.id = $1"

#: Read after the lock, in a statement of its own: a hold committed since the batch was chosen counts.
HELD_NOW: Final[LiteralString] = """
    SELECT 1 FROM legal_hold WHERE submission_id = $1 AND released_at IS NULL"""

RECEIPT_NUMBERS: Final[LiteralString] = """
    SELECT receipt_number FROM revision WHERE submission_id = $1 ORDER BY number"""
SUBMISSION_BY_RECEIPT: Final[LiteralString] = """
    SELECT submission_id FROM revision WHERE receipt_number = $1"""

#: Every object the purge deletes, by its SHA-256, computed in the database (the bytes stay there).
#: A submission has at most a few hundred revisions, files and comments: the list is bounded by them.
OBJECTS: Final[LiteralString] = """
    WITH r AS (SELECT id, number, document, document_sha256, receipt_json, receipt_cms, receipt_pdf
               FROM revision WHERE submission_id = $1)
    SELECT 'document' AS kind, r.number AS revision, NULL AS name, r.document_sha256 AS sha256,
           octet_length(r.document) AS size FROM r WHERE r.document IS NOT NULL
    UNION ALL SELECT 'receipt_json', r.number, NULL, sha256(r.receipt_json), octet_length(r.receipt_json)
        FROM r WHERE r.receipt_json IS NOT NULL
    UNION ALL SELECT 'receipt_cms', r.number, NULL, sha256(r.receipt_cms), octet_length(r.receipt_cms)
        FROM r WHERE r.receipt_cms IS NOT NULL
    UNION ALL SELECT 'receipt_pdf', r.number, NULL, sha256(r.receipt_pdf), octet_length(r.receipt_pdf)
        FROM r WHERE r.receipt_pdf IS NOT NULL
    UNION ALL SELECT 'signature', r.number, g.position::text, g.sha256, octet_length(g.cms)
        FROM r JOIN revision_signature g ON g.revision_id = r.id
    UNION ALL SELECT 'timestamp_token', r.number, g.position::text, sha256(g.timestamp_token),
                     octet_length(g.timestamp_token)
        FROM r JOIN revision_signature g ON g.revision_id = r.id WHERE g.timestamp_token IS NOT NULL
    UNION ALL SELECT 'attachment', r.number, t.field, t.sha256, t.size
        FROM r JOIN attachment t ON t.revision_id = r.id
    UNION ALL SELECT 'notice_json', r.number, d.notice_number, sha256(d.notice_json), octet_length(d.notice_json)
        FROM decision d JOIN r ON r.id = d.revision_id WHERE d.notice_json IS NOT NULL
    UNION ALL SELECT 'notice_cms', r.number, d.notice_number, sha256(d.notice_cms), octet_length(d.notice_cms)
        FROM decision d JOIN r ON r.id = d.revision_id WHERE d.notice_cms IS NOT NULL
    UNION ALL SELECT 'notice_pdf', r.number, d.notice_number, sha256(d.notice_pdf), octet_length(d.notice_pdf)
        FROM decision d JOIN r ON r.id = d.revision_id WHERE d.notice_pdf IS NOT NULL
    UNION ALL SELECT 'mandate', NULL, f.kind, f.mandate_sha256, octet_length(f.mandate)
        FROM proxy_filing f WHERE f.submission_id = $1
    UNION ALL SELECT 'mandate_signature', NULL, f.kind, sha256(f.mandate_signature), octet_length(f.mandate_signature)
        FROM proxy_filing f WHERE f.submission_id = $1
    UNION ALL SELECT 'comment', NULL, c.id::text, sha256(convert_to(c.body, 'UTF8')), octet_length(c.body)
        FROM comment c WHERE c.submission_id = $1
    ORDER BY kind, revision, name"""

#: The content goes; the rows stay (receipt numbers remain taken, the timeline keeps its dates, the
#: verdict of each revision stays without the signers' names). One statement, so nothing is half-done.
ERASE: Final[LiteralString] = """
    WITH revisions AS (SELECT id FROM revision WHERE submission_id = $1),
    signatures AS (DELETE FROM revision_signature WHERE revision_id IN (SELECT id FROM revisions)),
    files AS (DELETE FROM attachment WHERE revision_id IN (SELECT id FROM revisions)),
    filing AS (DELETE FROM proxy_filing WHERE submission_id = $1),
    notes AS (DELETE FROM comment WHERE submission_id = $1),
    -- 個人番号 (issue #18): the masked answers kept beside an encrypted document go with it.
    my_numbers AS (DELETE FROM revision_my_number WHERE revision_id IN (SELECT id FROM revisions)),
    notice AS (UPDATE decision SET notice_json = NULL, notice_cms = NULL, notice_pdf = NULL WHERE submission_id = $1),
    events AS (UPDATE submission_event SET message = NULL, fields = NULL WHERE submission_id = $1),
    content AS (
        UPDATE revision SET document = NULL, receipt_json = NULL, receipt_cms = NULL, receipt_pdf = NULL,
                            verification = jsonb_set(verification, '{signers}', '[]'), purged_at = $2
        WHERE submission_id = $1)
    UPDATE submission SET signer_identity = '[]', purged_at = $2 WHERE id = $1"""

INSERT_TOMBSTONE: Final[LiteralString] = """
    INSERT INTO submission_tombstone (submission_id, agency_code, procedure_id, status, receipt_numbers, received_at,
                                      closed_at, retention_years, retention_from, retention_source, retain_until,
                                      purged_at, objects, sha256)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"""
SELECT_TOMBSTONE: Final[LiteralString] = """
    SELECT submission_id, agency_code, procedure_id, status, receipt_numbers, received_at, closed_at,
           retention_years, retention_from, retention_source, retain_until, purged_at, objects, sha256
    FROM submission_tombstone WHERE submission_id = $1"""
PURGED_AT: Final[LiteralString] = "SELECT purged_at FROM submission WHERE id = $1"

#: The timeline's last word; the events outbox turns it into ``submission.purged``.
INSERT_PURGED_EVENT: Final[LiteralString] = """
    INSERT INTO submission_event (submission_id, kind, at) VALUES ($1, 'purged', $2)"""

LOCK_SUBMISSION: Final[LiteralString] = "SELECT agency_code, purged_at FROM submission WHERE id = $1 FOR UPDATE"
ACTIVE_HOLD: Final[LiteralString] = """
    SELECT submission_id, reason, placed_by, placed_at, released_by, released_at FROM legal_hold
    WHERE submission_id = $1 AND released_at IS NULL"""
#: Placing a hold on an application already held changes its reason and keeps who placed it, and when.
PLACE_HOLD: Final[LiteralString] = """
    INSERT INTO legal_hold (submission_id, reason, placed_by, placed_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (submission_id) WHERE released_at IS NULL DO UPDATE SET reason = excluded.reason
    RETURNING submission_id, reason, placed_by, placed_at, released_by, released_at, (xmax = 0) AS created"""
RELEASE_HOLD: Final[LiteralString] = """
    UPDATE legal_hold SET released_by = $2, released_at = $3 WHERE submission_id = $1 AND released_at IS NULL
    RETURNING submission_id, reason, placed_by, placed_at, released_by, released_at"""


async def lock_due(conn: asyncpg.Connection, now: dt.datetime, limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(LOCK_DUE, now, limit))


async def list_due(
    conn: asyncpg.Connection, now: dt.datetime, after: tuple[dt.datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_DUE, now, after[0] if after else None, after[1] if after else None, limit))


async def count_held(conn: asyncpg.Connection, now: dt.datetime) -> int:
    count: int = await conn.fetchval(COUNT_HELD, now)
    return count


async def schedule_of(conn: asyncpg.Connection, submission_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(SCHEDULE_OF, submission_id)


async def held_now(conn: asyncpg.Connection, submission_id: uuid.UUID) -> bool:
    return await conn.fetchval(HELD_NOW, submission_id) is not None


async def receipt_numbers(conn: asyncpg.Connection, submission_id: uuid.UUID) -> list[str]:
    return [r["receipt_number"] for r in await conn.fetch(RECEIPT_NUMBERS, submission_id)]


async def submission_by_receipt(conn: asyncpg.Connection, receipt_number: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(SUBMISSION_BY_RECEIPT, receipt_number)
    return found


async def objects(conn: asyncpg.Connection, submission_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(OBJECTS, submission_id))


async def erase(conn: asyncpg.Connection, submission_id: uuid.UUID, at: dt.datetime) -> None:
    await conn.execute(ERASE, submission_id, at)


async def insert_tombstone(conn: asyncpg.Connection, *values: Any) -> None:
    await conn.execute(INSERT_TOMBSTONE, *values)


async def tombstone(conn: asyncpg.Connection, submission_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_TOMBSTONE, submission_id)


async def purged_at(conn: asyncpg.Connection, submission_id: uuid.UUID) -> dt.datetime | None:
    at: dt.datetime | None = await conn.fetchval(PURGED_AT, submission_id)
    return at


async def purged_event(conn: asyncpg.Connection, submission_id: uuid.UUID, at: dt.datetime) -> None:
    await conn.execute(INSERT_PURGED_EVENT, submission_id, at)


async def lock_submission(conn: asyncpg.Connection, submission_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(LOCK_SUBMISSION, submission_id)


async def active_hold(conn: asyncpg.Connection, submission_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(ACTIVE_HOLD, submission_id)


async def place_hold(
    conn: asyncpg.Connection, submission_id: uuid.UUID, reason: str, by: uuid.UUID, at: dt.datetime
) -> asyncpg.Record:
    row = await conn.fetchrow(PLACE_HOLD, submission_id, reason, by, at)
    assert row is not None  # RETURNING always yields a row
    return row


async def release_hold(
    conn: asyncpg.Connection, submission_id: uuid.UUID, by: uuid.UUID, at: dt.datetime
) -> asyncpg.Record | None:
    return await conn.fetchrow(RELEASE_HOLD, submission_id, by, at)
