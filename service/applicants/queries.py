"""SQL for sign-in challenges, card links, applicant sessions and the holder's submissions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, LiteralString

import asyncpg

from service.applicants.schemas import ApplicantSubmission

INSERT_CHALLENGE: Final[LiteralString] = """
    INSERT INTO applicant_challenge (challenge, expires_at) VALUES ($1, now() + $2::interval)
    RETURNING expires_at"""
CONSUME_CHALLENGE: Final[LiteralString] = """
    UPDATE applicant_challenge SET consumed_at = now()
    WHERE challenge = $1 AND consumed_at IS NULL AND expires_at > now()
    RETURNING issued_at"""
#: A card linked again (a renewed signing certificate, say) takes the newer holder identity.
UPSERT_LINK: Final[LiteralString] = """
    INSERT INTO card_link (auth_certificate_sha256, signing_certificate_sha256, identity) VALUES ($1, $2, $3)
    ON CONFLICT (auth_certificate_sha256) DO UPDATE
    SET signing_certificate_sha256 = excluded.signing_certificate_sha256, identity = excluded.identity,
        linked_at = now()"""
SELECT_LINK: Final[LiteralString] = "SELECT identity FROM card_link WHERE auth_certificate_sha256 = $1"
INSERT_SESSION: Final[LiteralString] = """
    INSERT INTO applicant_session (token_hash, auth_certificate_sha256, identity, expires_at)
    VALUES ($1, $2, $3, now() + $4::interval)
    RETURNING expires_at"""
SELECT_SESSION: Final[LiteralString] = """
    SELECT identity FROM applicant_session WHERE token_hash = $1 AND expires_at > now()"""
DELETE_SESSION: Final[LiteralString] = "DELETE FROM applicant_session WHERE token_hash = $1 RETURNING token_hash"
#: The holder's applications, newest first: containment of the identity in the signers (GIN index).
LIST_FOR_HOLDER: Final[LiteralString] = """
    SELECT s.id AS submission_id, s.agency_code AS agency, s.procedure_id AS procedure, s.form_id, s.status,
           (SELECT r.receipt_number FROM revision r WHERE r.submission_id = s.id ORDER BY r.number DESC LIMIT 1)
               AS receipt_number,
           s.created_at, s.updated_at,
           pf.agent->>'display' AS filed_by, pf.agent->>'profession' AS filed_by_profession,
           pf.principal->>'display' AS on_behalf_of
    FROM submission s
    LEFT JOIN proxy_filing pf ON pf.submission_id = s.id
    WHERE s.signer_identity @> $1::jsonb
      AND ($2::timestamptz IS NULL OR (s.created_at, s.id) < ($2, $3::uuid))
    ORDER BY s.created_at DESC, s.id DESC
    LIMIT $4"""
#: One of the holder's applications (as the list finds them): what a session may open.
SIGNED_BY_HOLDER: Final[LiteralString] = """
    SELECT EXISTS (SELECT 1 FROM submission WHERE id = $1 AND signer_identity @> $2::jsonb)"""
PURGE_SIGN_IN: Final[LiteralString] = """
    WITH c AS (
        DELETE FROM applicant_challenge WHERE challenge IN (
            SELECT challenge FROM applicant_challenge WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2
            FOR UPDATE SKIP LOCKED)
        RETURNING 1
    ), s AS (
        DELETE FROM applicant_session WHERE token_hash IN (
            SELECT token_hash FROM applicant_session WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2
            FOR UPDATE SKIP LOCKED)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM s)"""


async def insert_challenge(conn: asyncpg.Connection, challenge: str, lifetime: dt.timedelta) -> dt.datetime:
    expires: dt.datetime = await conn.fetchval(INSERT_CHALLENGE, challenge, lifetime)
    return expires


async def consume_challenge(conn: asyncpg.Connection, challenge: str) -> dt.datetime | None:
    issued: dt.datetime | None = await conn.fetchval(CONSUME_CHALLENGE, challenge)
    return issued


async def link_card(
    conn: asyncpg.Connection, auth_sha256: bytes, signing_sha256: bytes, identity: dict[str, Any]
) -> None:
    await conn.execute(UPSERT_LINK, auth_sha256, signing_sha256, identity)


async def linked_identity(conn: asyncpg.Connection, auth_sha256: bytes) -> dict[str, Any] | None:
    identity: dict[str, Any] | None = await conn.fetchval(SELECT_LINK, auth_sha256)
    return identity


async def insert_session(
    conn: asyncpg.Connection, token_hash: bytes, auth_sha256: bytes, identity: dict[str, Any], lifetime: dt.timedelta
) -> dt.datetime:
    expires: dt.datetime = await conn.fetchval(INSERT_SESSION, token_hash, auth_sha256, identity, lifetime)
    return expires


async def session_identity(conn: asyncpg.Connection, token_hash: bytes) -> dict[str, Any] | None:
    identity: dict[str, Any] | None = await conn.fetchval(SELECT_SESSION, token_hash)
    return identity


async def delete_session(conn: asyncpg.Connection, token_hash: bytes) -> bool:
    return await conn.fetchval(DELETE_SESSION, token_hash) is not None


async def submissions_for(
    conn: asyncpg.Connection, identity: dict[str, Any], after: tuple[dt.datetime, uuid.UUID] | None, limit: int
) -> list[ApplicantSubmission]:
    created, submission_id = after or (None, None)
    rows = await conn.fetch(LIST_FOR_HOLDER, [identity], created, submission_id, limit)
    return [ApplicantSubmission(**dict(r)) for r in rows]


async def purge_sign_in(conn: asyncpg.Connection, now: dt.datetime, batch: int) -> int:
    deleted: int = await conn.fetchval(PURGE_SIGN_IN, now, batch)
    return deleted


async def signed_by_holder(conn: asyncpg.Connection, submission_id: uuid.UUID, identity: dict[str, Any]) -> bool:
    found: bool = await conn.fetchval(SIGNED_BY_HOLDER, submission_id, [identity])
    return found
