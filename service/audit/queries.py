"""SQL of the audit trail: appends, the sealer's batches, and the walk that verifies the chain."""

from __future__ import annotations

from typing import Final, LiteralString

#: An append: no lock, no read of the head; the event waits, unsealed, for its place in the chain.
INSERT: Final[LiteralString] = """
    INSERT INTO audit_event (at, actor, role, agency_code, action, subject, details) VALUES ($1, $2, $3, $4, $5, $6, $7)
    RETURNING seq"""
TRY_LOCK: Final[LiteralString] = "SELECT pg_try_advisory_xact_lock($1)"
LOCK: Final[LiteralString] = "SELECT pg_advisory_xact_lock($1)"
SEALED_HEAD: Final[LiteralString] = """
    SELECT position, hash, at FROM audit_event WHERE position IS NOT NULL ORDER BY position DESC LIMIT 1"""
UNSEALED: Final[LiteralString] = """
    SELECT seq, at, actor, role, agency_code, action, subject, details FROM audit_event
    WHERE position IS NULL ORDER BY seq LIMIT $1"""
SEAL: Final[LiteralString] = """
    UPDATE audit_event a SET position = t.position, prev_hash = t.prev_hash, hash = t.hash
    FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[]) AS t(seq, position, prev_hash, hash)
    WHERE a.seq = t.seq AND a.position IS NULL"""
WALK: Final[LiteralString] = """
    SELECT position, at, actor, role, agency_code, action, subject, details, prev_hash, hash
    FROM audit_event WHERE position > $1 ORDER BY position LIMIT $2"""
