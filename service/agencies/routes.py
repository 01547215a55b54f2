"""Agency endpoints."""

from __future__ import annotations

from litestar import Controller, Response, get, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from service.agencies import service
from service.agencies.schemas import AgencyIn, AgencyOut
from service.auth.principal import Caller, allow, authenticate
from service.db import Conn
from service.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from service.problems import InvalidBody
from service.validation import FieldProblem


class AgencyController(Controller):
    path = "/api/v1/agencies"
    tags = ("agencies",)

    @get("/", summary="List agencies")
    async def list_agencies(self, conn: Conn, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> Page[AgencyOut]:
        return await service.list_agencies(conn, cursor, limit)

    @get("/{code:str}", summary="One agency")
    async def get_agency(self, conn: Conn, code: FromPath[str]) -> AgencyOut:
        return await service.get_agency(conn, code)

    @put(
        "/{code:str}",
        summary="Create or rename an agency (admin)",
        status_code=HTTP_200_OK,
        guards=[authenticate, allow("admin")],
    )
    async def put_agency(
        self, conn: Conn, principal: Caller, code: FromPath[str], data: JSONBody[AgencyIn]
    ) -> Response[AgencyOut]:
        if data.code != code:
            raise InvalidBody(
                "The code in the body differs from the one in the path.",
                errors=[FieldProblem(pointer="/code", code="mismatch", detail=f"must be {code}")],
            )
        agency, created = await service.put_agency(conn, principal, data)
        return Response(agency, status_code=HTTP_201_CREATED if created else HTTP_200_OK)
