"""The event feed endpoint."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from service.auth.principal import Caller, allow, authenticate
from service.db import Conn
from service.events import service
from service.events.schemas import EventOut, EventType
from service.pagination import DEFAULT_LIMIT, Cursor, Limit, Page

TypeFilter = Annotated[list[EventType] | None, QueryParameter(description="Only events of these types.", max_length=10)]


class EventController(Controller):
    path = "/api/v1/events"
    tags = ("events",)
    guards = [authenticate, allow("admin", "agency-admin", "clerk")]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/", summary="The agency's events in commit order (the transactional outbox), a page at a time")
    async def list_events(
        self,
        conn: Conn,
        principal: Caller,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        agency: Annotated[str | None, QueryParameter(max_length=32, description="Admins: only this agency's.")] = None,
        type: TypeFilter = None,
    ) -> Page[EventOut]:
        return await service.list_events(conn, principal, agency, list(type) if type else None, cursor, limit)
