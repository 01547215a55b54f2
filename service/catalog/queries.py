"""SQL for the procedure catalogue."""

from __future__ import annotations

from typing import Any, Final, LiteralString

import asyncpg
import msgspec

from service.catalog import policy
from service.catalog.schemas import (
    LegacyRequirements,
    MyNumberRule,
    PolicyOverride,
    ProcedureIn,
    ProcedureOut,
    ProxyRule,
    ReformStatus,
)
from service.retention.schemas import RetentionRule

_COLUMNS: Final = """
    id, agency_code, name_ja, name_en, legal_basis, paper, seal, in_person,
    reform_status, reform_effective, reform_note,
    override_signature, override_identity_proofing, override_reason, revocation, proxy, retention_years, retention_from,
    my_number,
    created_at, updated_at"""

LIST_PROCEDURES: Final[LiteralString] = f"""
    SELECT {_COLUMNS} FROM procedure
    WHERE ($1::text IS NULL OR agency_code = $1)
      AND (NOT $2::boolean OR paper)
      AND (NOT $3::boolean OR seal <> 'none')
      AND (NOT $4::boolean OR in_person)
      AND ($5::text[] IS NULL
           OR (SELECT bool_and(search_text LIKE '%' || term || '%' ESCAPE '\\') FROM unnest($5::text[]) AS term))
      AND ($6::text IS NULL OR id > $6)
    ORDER BY id
    LIMIT $7"""  # noqa: S608 - the only interpolation is the constant column list above

SELECT_PROCEDURE: Final[LiteralString] = f"SELECT {_COLUMNS} FROM procedure WHERE id = $1"  # noqa: S608

SELECT_PROCEDURE_AGENCY: Final[LiteralString] = "SELECT agency_code FROM procedure WHERE id = $1 FOR UPDATE"

_VALUES: Final = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19"

INSERT_PROCEDURE: Final[LiteralString] = f"""
    INSERT INTO procedure (id, agency_code, name_ja, name_en, legal_basis, paper, seal, in_person,
                           reform_status, reform_effective, reform_note,
                           override_signature, override_identity_proofing, override_reason, revocation, proxy,
                           retention_years, retention_from, my_number)
    VALUES ({_VALUES})
    ON CONFLICT (id) DO NOTHING
    RETURNING {_COLUMNS}"""  # noqa: S608

UPSERT_PROCEDURE: Final[LiteralString] = f"""
    INSERT INTO procedure (id, agency_code, name_ja, name_en, legal_basis, paper, seal, in_person,
                           reform_status, reform_effective, reform_note,
                           override_signature, override_identity_proofing, override_reason, revocation, proxy,
                           retention_years, retention_from, my_number)
    VALUES ({_VALUES})
    ON CONFLICT (id) DO UPDATE SET
        agency_code = excluded.agency_code, name_ja = excluded.name_ja, name_en = excluded.name_en,
        legal_basis = excluded.legal_basis, paper = excluded.paper, seal = excluded.seal,
        in_person = excluded.in_person, reform_status = excluded.reform_status,
        reform_effective = excluded.reform_effective, reform_note = excluded.reform_note,
        override_signature = excluded.override_signature,
        override_identity_proofing = excluded.override_identity_proofing,
        override_reason = excluded.override_reason, revocation = excluded.revocation, proxy = excluded.proxy,
        retention_years = excluded.retention_years, retention_from = excluded.retention_from,
        my_number = excluded.my_number,
        updated_at = CASE
            WHEN (procedure.agency_code, procedure.name_ja, procedure.name_en, procedure.legal_basis,
                  procedure.paper, procedure.seal, procedure.in_person, procedure.reform_status,
                  procedure.reform_effective, procedure.reform_note, procedure.override_signature,
                  procedure.override_identity_proofing, procedure.override_reason, procedure.revocation,
                  procedure.proxy, procedure.retention_years, procedure.retention_from, procedure.my_number)
                 IS NOT DISTINCT FROM
                 (excluded.agency_code, excluded.name_ja, excluded.name_en, excluded.legal_basis,
                  excluded.paper, excluded.seal, excluded.in_person, excluded.reform_status,
                  excluded.reform_effective, excluded.reform_note, excluded.override_signature,
                  excluded.override_identity_proofing, excluded.override_reason, excluded.revocation,
                  excluded.proxy, excluded.retention_years, excluded.retention_from, excluded.my_number)
            THEN procedure.updated_at ELSE now() END
    RETURNING {_COLUMNS}"""  # noqa: S608

DELETE_PROCEDURE: Final[LiteralString] = "DELETE FROM procedure WHERE id = $1"


def _procedure(row: asyncpg.Record) -> ProcedureOut:
    legacy = LegacyRequirements(paper=row["paper"], seal=row["seal"], in_person=row["in_person"])
    override = None
    if row["override_signature"] is not None:
        override = PolicyOverride(
            signature=row["override_signature"],
            identity_proofing=row["override_identity_proofing"],
            reason=row["override_reason"],
        )
    return ProcedureOut(
        id=row["id"],
        agency=row["agency_code"],
        name_ja=row["name_ja"],
        name_en=row["name_en"],
        legal_basis=row["legal_basis"],
        legacy=legacy,
        reform=ReformStatus(status=row["reform_status"], effective=row["reform_effective"], note=row["reform_note"]),
        digital_policy=policy.effective(legacy, override),
        revocation=row["revocation"],
        proxy=msgspec.convert(row["proxy"], ProxyRule) if row["proxy"] is not None else None,
        retention=RetentionRule(years=row["retention_years"], start=row["retention_from"])
        if row["retention_years"] is not None
        else None,
        my_number=msgspec.convert(row["my_number"], MyNumberRule) if row["my_number"] is not None else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _arguments(p: ProcedureIn) -> tuple[Any, ...]:
    o = p.policy_override
    return (
        p.id, p.agency, p.name_ja, p.name_en, p.legal_basis, p.legacy.paper, p.legacy.seal, p.legacy.in_person,
        p.reform.status, p.reform.effective, p.reform.note,
        o.signature if o else None, o.identity_proofing if o else None, o.reason if o else None, p.revocation,
        msgspec.to_builtins(p.proxy) if p.proxy is not None else None,
        p.retention.years if p.retention else None, p.retention.start if p.retention else None,
        msgspec.to_builtins(p.my_number) if p.my_number is not None else None,
    )  # fmt: skip


async def list_procedures(
    conn: asyncpg.Connection,
    *,
    agency: str | None,
    requires: frozenset[str],
    terms: list[str] | None,
    after: str | None,
    limit: int,
) -> list[ProcedureOut]:
    rows = await conn.fetch(
        LIST_PROCEDURES,
        agency,
        "paper" in requires,
        "seal" in requires,
        "in_person" in requires,
        terms,
        after,
        limit,
    )
    return [_procedure(r) for r in rows]


async def get_procedure(conn: asyncpg.Connection, procedure_id: str) -> ProcedureOut | None:
    row = await conn.fetchrow(SELECT_PROCEDURE, procedure_id)
    return None if row is None else _procedure(row)


async def lock_procedure_agency(conn: asyncpg.Connection, procedure_id: str) -> str | None:
    """The owning agency, with the row locked until the transaction ends (for PUT and DELETE)."""
    agency: str | None = await conn.fetchval(SELECT_PROCEDURE_AGENCY, procedure_id)
    return agency


async def insert_procedure(conn: asyncpg.Connection, procedure: ProcedureIn) -> ProcedureOut | None:
    """None when the id is taken."""
    row = await conn.fetchrow(INSERT_PROCEDURE, *_arguments(procedure))
    return None if row is None else _procedure(row)


async def upsert_procedure(conn: asyncpg.Connection, procedure: ProcedureIn) -> ProcedureOut:
    row = await conn.fetchrow(UPSERT_PROCEDURE, *_arguments(procedure))
    assert row is not None  # RETURNING always yields a row
    return _procedure(row)


async def delete_procedure(conn: asyncpg.Connection, procedure_id: str) -> None:
    await conn.execute(DELETE_PROCEDURE, procedure_id)
