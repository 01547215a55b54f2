"""SQL for filings on someone's behalf."""

from __future__ import annotations

import uuid
from typing import Any, Final, LiteralString

import asyncpg

SELECT_PROXY_RULE: Final[LiteralString] = "SELECT proxy FROM procedure WHERE id = $1"
INSERT_FILING: Final[LiteralString] = """
    INSERT INTO proxy_filing (submission_id, kind, agent, principal, agent_key, mandate, mandate_signature,
                              mandate_sha256, report)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (submission_id) DO NOTHING"""
SELECT_FILING: Final[LiteralString] = """
    SELECT kind, agent, principal, mandate, mandate_sha256, report FROM proxy_filing WHERE submission_id = $1"""
SELECT_FILING_EVIDENCE: Final[LiteralString] = """
    SELECT kind, mandate, mandate_signature, report FROM proxy_filing WHERE submission_id = $1"""


async def proxy_rule(conn: asyncpg.Connection, procedure_id: str) -> dict[str, Any] | None:
    rule: dict[str, Any] | None = await conn.fetchval(SELECT_PROXY_RULE, procedure_id)
    return rule


async def insert_filing(
    conn: asyncpg.Connection,
    submission_id: uuid.UUID,
    kind: str,
    agent: dict[str, Any],
    principal: dict[str, Any],
    agent_key: str,
    mandate: bytes,
    mandate_signature: bytes,
    mandate_sha256: bytes,
    report: dict[str, Any],
) -> None:
    await conn.execute(
        INSERT_FILING,
        submission_id,
        kind,
        agent,
        principal,
        agent_key,
        mandate,
        mandate_signature,
        mandate_sha256,
        report,
    )


async def filing(conn: asyncpg.Connection, submission_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_FILING, submission_id)


async def filing_evidence(conn: asyncpg.Connection, submission_id: uuid.UUID) -> asyncpg.Record | None:
    """The mandate or statement, its signature and the report of it, for the evidence bundle."""
    return await conn.fetchrow(SELECT_FILING_EVIDENCE, submission_id)
