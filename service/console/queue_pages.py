"""The queue page: the API's filters, keyset paging, and claiming the next application."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any, Final, get_args

from litestar import Request, get, post
from litestar.response import Redirect, Template

from service.auth.principal import Caller
from service.console import queries
from service.console.labels import JST
from service.console.pages import page, signed_in
from service.db import Conn
from service.pagination import DEFAULT_LIMIT
from service.problems import InvalidParameter
from service.queue import service as queue
from service.queue.schemas import Assigned, Flag
from service.submissions.schemas import Status
from service.validation import FieldProblem

#: The filters' values, from the API's own types (a browser sends "" for "any", so they are read as text).
STATUSES: Final = get_args(Status)
FLAGS: Final = get_args(Flag)
ASSIGNED: Final = get_args(Assigned)


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise InvalidParameter(
            f"Invalid parameter: {name}.",
            errors=[FieldProblem(parameter=name, code="enum", detail=f"must be one of {', '.join(allowed)}")],
        )
    return value


def _jst_day(name: str, value: str | None, *, end: bool = False) -> dt.datetime | None:
    """A date typed by a clerk means that day in Japan; the end of a range includes its whole day."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(
            f"Invalid parameter: {name}.",
            errors=[FieldProblem(parameter=name, code="date", detail="must be a date (YYYY-MM-DD)")],
        ) from None
    moment = dt.datetime.combine(day, dt.time(), JST)
    return moment + dt.timedelta(days=1) if end else moment


@get("/queue", include_in_schema=False, guards=[signed_in])
async def queue_page(request: Request[Any, Any, Any], conn: Conn, principal: Caller) -> Template:
    q = request.query_params
    filters = {name: (q.get(name) or "")[:80] for name in
               ("status", "procedure", "form", "flag", "assigned", "received_from", "received_to")}  # fmt: skip
    result = await queue.list_queue(
        conn, principal,
        status=_choice("status", filters["status"], STATUSES),
        form=filters["form"] or None,
        procedure=filters["procedure"] or None,
        assigned=_choice("assigned", filters["assigned"], ASSIGNED) or "any",
        flag=_choice("flag", filters["flag"], FLAGS),
        received_from=_jst_day("received_from", filters["received_from"]),
        received_to=_jst_day("received_to", filters["received_to"], end=True),
        cursor=(q.get("cursor") or None), limit=_limit(q.get("limit")),
    )  # fmt: skip
    kept = {k: v for k, v in filters.items() if v}
    if (limit := q.get("limit")) is not None:
        kept["limit"] = limit
    next_url = None
    if result.next_cursor:
        next_url = f"/console/queue?{urllib.parse.urlencode(kept | {'cursor': result.next_cursor})}"
    agency = principal.agency_code or ""
    context: dict[str, Any] = {
        "rows": result.items, "next_url": next_url, "filters": filters, "statuses": STATUSES, "flags": FLAGS,
        "first_url": f"/console/queue?{urllib.parse.urlencode(kept)}" if q.get("cursor") else None,
        "procedures": await queries.agency_procedures(conn, agency, 500),
        "forms": sorted({r.id for r in await queries.agency_forms(conn, agency, 1000)}),
        "claimed_none": q.get("claimed") == "none",
    }  # fmt: skip
    if request.headers.get("hx-request") == "true":
        return page(request, "queue_results.html", **context)
    return page(request, "queue.html", **context)


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= 200:
        raise InvalidParameter(
            "Invalid parameter: limit.",
            errors=[FieldProblem(parameter="limit", code="range", detail="must be between 1 and 200")],
        )
    return int(value)


@post("/queue/claim", include_in_schema=False, guards=[signed_in], status_code=303)
async def claim_next(conn: Conn, principal: Caller) -> Redirect:
    claimed = await queue.claim(conn, principal)
    if claimed is None:
        return Redirect("/console/queue?claimed=none", status_code=303)
    return Redirect(f"/console/applications/{claimed.id}", status_code=303)
