"""Catalogue rules: public reading; agency admins curate their own agency's procedures."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Final

import asyncpg

from service.agencies import queries as agency_queries
from service.auth.principal import require_agency, require_role
from service.auth.schemas import Principal
from service.catalog import queries
from service.catalog.schemas import CatalogFile, ProcedureIn, ProcedureOut, Requirement
from service.pagination import Page, decode_cursor, page
from service.problems import Conflict, Forbidden, InvalidBody, InvalidParameter, NotFound
from service.validation import FieldProblem

MAX_TERMS: Final = 8


def search_terms(q: str | None) -> list[str] | None:
    """Split a query into LIKE patterns, normalised the way ``procedure.search_text`` is.

    Japanese has no spaces between words, so PostgreSQL's text search would treat a whole name
    as one token; substring matching of NFKC-folded, lower-cased terms finds 印鑑 in 印鑑届出.
    """
    if q is None:
        return None
    folded = unicodedata.normalize("NFKC", q).lower().split()
    if len(folded) > MAX_TERMS:
        raise InvalidParameter(
            f"Search with at most {MAX_TERMS} words.",
            errors=[FieldProblem(parameter="q", code="max_items", detail=f"at most {MAX_TERMS} words")],
        )
    escaped = [t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for t in folded]
    return escaped or None


async def list_procedures(
    conn: asyncpg.Connection,
    *,
    agency: str | None,
    requires: Iterable[Requirement],
    q: str | None,
    cursor: str | None,
    limit: int,
) -> Page[ProcedureOut]:
    after = decode_cursor(cursor, str)
    rows = await queries.list_procedures(
        conn,
        agency=agency,
        requires=frozenset(requires),
        terms=search_terms(q),
        after=after[0] if after else None,
        limit=limit + 1,
    )
    return page(rows, limit, lambda p: (p.id,))


def _missing(procedure_id: str) -> NotFound:
    return NotFound(f"There is no procedure {procedure_id}.")


async def get_procedure(conn: asyncpg.Connection, procedure_id: str) -> ProcedureOut:
    procedure = await queries.get_procedure(conn, procedure_id)
    if procedure is None:
        raise _missing(procedure_id)
    return procedure


async def _check_agency_exists(conn: asyncpg.Connection, code: str) -> None:
    if await agency_queries.get_agency(conn, code) is None:
        raise InvalidBody(
            f"There is no agency {code}.",
            errors=[FieldProblem(pointer="/agency", code="unknown_agency", detail="is not a known agency")],
        )


def _check_acts_for(who: Principal, code: str) -> None:
    if not who.acts_for(code):
        raise Forbidden(f"Your token acts for {who.agency_code}, not for {code}.")


async def create_procedure(conn: asyncpg.Connection, who: Principal, data: ProcedureIn) -> ProcedureOut:
    principal = require_role(who, "admin", "agency-admin")
    _check_acts_for(principal, data.agency)
    await _check_agency_exists(conn, data.agency)
    created = await queries.insert_procedure(conn, data)
    if created is None:
        raise Conflict(f"A procedure with id {data.id} already exists.")
    return created


async def replace_procedure(
    conn: asyncpg.Connection, who: Principal, procedure_id: str, data: ProcedureIn
) -> ProcedureOut:
    principal = require_role(who, "admin", "agency-admin")
    owner = await queries.lock_procedure_agency(conn, procedure_id)
    if owner is None:
        raise _missing(procedure_id)
    require_agency(principal, owner, f"There is no procedure {procedure_id}.")
    if data.id != procedure_id:
        raise InvalidBody(
            "The id in the body differs from the one in the path.",
            errors=[FieldProblem(pointer="/id", code="mismatch", detail=f"must be {procedure_id}")],
        )
    _check_acts_for(principal, data.agency)
    await _check_agency_exists(conn, data.agency)
    return await queries.upsert_procedure(conn, data)


async def delete_procedure(conn: asyncpg.Connection, who: Principal, procedure_id: str) -> None:
    principal = require_role(who, "admin", "agency-admin")
    owner = await queries.lock_procedure_agency(conn, procedure_id)
    if owner is None:
        raise _missing(procedure_id)
    require_agency(principal, owner, f"There is no procedure {procedure_id}.")
    try:
        await queries.delete_procedure(conn, procedure_id)
    except asyncpg.ForeignKeyViolationError:
        # Its forms (and the submissions made on them) keep it: a procedure with history is not erased.
        raise Conflict(f"Procedure {procedure_id} has forms; it cannot be removed while they refer to it.") from None


async def load_catalog(conn: asyncpg.Connection, catalog: CatalogFile) -> tuple[int, int]:
    """Upsert every agency and procedure of a catalogue file; running it twice changes nothing."""
    for agency in catalog.agencies:
        await agency_queries.upsert_agency(conn, agency)
    for procedure in catalog.procedures:
        await queries.upsert_procedure(conn, procedure)
    return len(catalog.agencies), len(catalog.procedures)
