"""Procedure catalogue endpoints."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from service.auth.principal import Caller, allow, authenticate
from service.catalog import service
from service.catalog.schemas import ProcedureIn, ProcedureOut, Requirement
from service.db import Conn
from service.pagination import DEFAULT_LIMIT, Cursor, Limit, Page

AgencyFilter = Annotated[str | None, QueryParameter(max_length=32, description="Agency code, e.g. MHLW.")]
RequiresFilter = Annotated[
    list[Requirement] | None,
    QueryParameter(description="Only procedures whose paper version demanded all of these.", max_length=3),
]
ADMINS = [authenticate, allow("admin", "agency-admin")]
Search = Annotated[str | None, QueryParameter(max_length=200, description="Words to find in either name.")]


class ProcedureController(Controller):
    path = "/api/v1/procedures"
    tags = ("procedures",)

    @get("/", summary="Search the procedure catalogue")
    async def list_procedures(
        self,
        conn: Conn,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        agency: AgencyFilter = None,
        requires: RequiresFilter = None,
        q: Search = None,
    ) -> Page[ProcedureOut]:
        return await service.list_procedures(
            conn, agency=agency, requires=requires or (), q=q, cursor=cursor, limit=limit
        )

    @get("/{procedure_id:str}", summary="One procedure")
    async def get_procedure(self, conn: Conn, procedure_id: FromPath[str]) -> ProcedureOut:
        return await service.get_procedure(conn, procedure_id)

    @post("/", summary="Add a procedure (agency admin)", status_code=HTTP_201_CREATED, guards=ADMINS)
    async def create_procedure(self, conn: Conn, principal: Caller, data: JSONBody[ProcedureIn]) -> ProcedureOut:
        return await service.create_procedure(conn, principal, data)

    @put("/{procedure_id:str}", summary="Replace a procedure (agency admin)", guards=ADMINS)
    async def replace_procedure(
        self, conn: Conn, principal: Caller, procedure_id: FromPath[str], data: JSONBody[ProcedureIn]
    ) -> ProcedureOut:
        return await service.replace_procedure(conn, principal, procedure_id, data)

    @delete(
        "/{procedure_id:str}",
        summary="Remove a procedure (agency admin)",
        status_code=HTTP_204_NO_CONTENT,
        guards=ADMINS,
    )
    async def delete_procedure(self, conn: Conn, principal: Caller, procedure_id: FromPath[str]) -> None:
        await service.delete_procedure(conn, principal, procedure_id)
