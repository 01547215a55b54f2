"""Intake's one call into drafts: a draft whose nonce a submission consumed ends with that submission."""

from __future__ import annotations

import asyncpg

from service.drafts import queries


async def submitted(conn: asyncpg.Connection, nonce: str) -> None:
    """Delete the draft that was finalised with ``nonce``, if any.

    Called inside intake's transaction after the nonce is consumed, so the draft is gone exactly
    when the submission is stored (and stays if intake fails and rolls back).
    """
    await queries.delete_for_nonce(conn, nonce)
