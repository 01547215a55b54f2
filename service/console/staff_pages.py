"""The agency's clerk tokens: list, issue (shown once), revoke (agency admins)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from service.auth import service as auth_service
from service.auth.principal import Caller, require_role
from service.auth.schemas import TokenIn
from service.console import service as console
from service.console.pages import page, posted_text, signed_in
from service.db import Conn


@get("/staff", include_in_schema=False, guards=[signed_in])
async def staff_page(request: Request[Any, Any, Any], conn: Conn, principal: Caller) -> Template:
    require_role(principal, "agency-admin")
    return page(request, "staff.html", tokens=await console.agency_tokens(conn, principal), issued=None)


@post("/staff", include_in_schema=False, guards=[signed_in], status_code=200)
async def issue_clerk_token(request: Request[Any, Any, Any], conn: Conn, principal: Caller) -> Template:
    """The new token is in this response only (``no-store``); the list shows it from now on without its secret."""
    name = posted_text(await request.form(), "name", 200)
    issued = await auth_service.create_token(conn, principal, TokenIn(role="clerk", name=name))
    return page(request, "staff.html", tokens=await console.agency_tokens(conn, principal), issued=issued)


@post("/staff/{token_id:uuid}/revoke", include_in_schema=False, guards=[signed_in], status_code=303)
async def revoke_clerk_token(conn: Conn, principal: Caller, token_id: FromPath[uuid.UUID]) -> Redirect:
    await auth_service.revoke_token(conn, principal, token_id)
    return Redirect("/console/staff", status_code=303)
