"""``GET /api/v1/audit/head``: the chain's head, to publish or time-stamp elsewhere (admins)."""

from __future__ import annotations

from litestar import get

from service.audit import trail
from service.auth.principal import Caller, allow, authenticate, require_role
from service.db import Conn


@get(
    "/api/v1/audit/head",
    tags=["audit"],
    summary="The audit chain's head (admin)",
    guards=[authenticate, allow("admin")],
)
async def audit_head(conn: Conn, principal: Caller) -> trail.Head:
    require_role(principal, "admin")
    return await trail.head(conn)
