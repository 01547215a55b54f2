"""Queue endpoints (clerks and agency admins of the agency)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from service.auth.principal import Caller, allow, authenticate
from service.db import Conn
from service.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from service.queue import service
from service.queue.schemas import Assigned, Claimed, Flag, QueueRow
from service.submissions.schemas import Status


class QueueController(Controller):
    path = "/api/v1/queue"
    tags = ("queue",)
    guards = [authenticate, allow("clerk", "agency-admin")]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/", summary="The agency's submissions, oldest first")
    async def list_queue(
        self,
        conn: Conn,
        principal: Caller,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        status: Annotated[Status | None, QueryParameter()] = None,
        form: Annotated[str | None, QueryParameter(max_length=80)] = None,
        procedure: Annotated[str | None, QueryParameter(max_length=80)] = None,
        assigned: Annotated[Assigned, QueryParameter()] = "any",
        flag: Annotated[Flag | None, QueryParameter()] = None,
        received_from: Annotated[dt.datetime | None, QueryParameter()] = None,
        received_to: Annotated[dt.datetime | None, QueryParameter()] = None,
        agent: Annotated[
            str | None, QueryParameter(max_length=200, description="Filed on someone's behalf by this agent (name).")
        ] = None,
    ) -> Page[QueueRow]:
        return await service.list_queue(
            conn, principal, status=status, form=form, procedure=procedure, assigned=assigned, flag=flag,
            received_from=received_from, received_to=received_to, cursor=cursor, limit=limit, agent=agent,
        )  # fmt: skip

    @post(
        "/claim", summary="Take the oldest unassigned submission (204 when the queue is empty)", status_code=HTTP_200_OK
    )
    async def claim(self, conn: Conn, principal: Caller) -> Response[Any]:
        claimed: Claimed | None = await service.claim(conn, principal)
        if claimed is None:
            return Response(None, status_code=HTTP_204_NO_CONTENT)
        return Response(claimed, status_code=HTTP_200_OK)
