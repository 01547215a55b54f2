"""Who is calling, and the checks every protected service function starts with."""

from __future__ import annotations

from typing import Any, Final, TypeAlias

import asyncpg
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard

from service.auth import queries, tokens
from service.auth.schemas import Principal, Role
from service.db import Conn, Database
from service.litestar_internals import handler_parameters
from service.problems import Forbidden, NotFound, Unauthenticated

#: A route parameter that receives the authenticated caller (routes guarded by ``authenticate``).
Caller: TypeAlias = NamedDependency[Principal]
#: A route parameter that receives the caller of a public route, if a token was sent.
Viewer: TypeAlias = NamedDependency[Principal | None]


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of every staff endpoint: resolve the bearer token before anything else is looked at.

    Guards run before Litestar decodes the body, so an anonymous caller learns nothing about an
    endpoint's validation rules (401 comes first), and the token lookup uses its own short
    checkout of the pool rather than holding the request's transaction open.
    """
    header = connection.headers.get("authorization")
    if header is None:
        raise Unauthenticated("This endpoint requires a bearer token.")
    database: Database = connection.app.state.database
    async with database.connection() as conn:
        connection.state.principal = await resolve(header, conn)


#: Routes that judge the Authorization header themselves: the applicant's access token (``sbm_``),
#: a card sign-in (``aps_``) or a staff token, for one application (``service.access``); a draft's token
#: (``drf_``, service/drafts); a card sign-in session (``aps_``, service/applicants).
OWN_CREDENTIALS_PREFIX: Final = ("/api/v1/submissions/", "/api/v1/drafts", "/api/v1/applicant/")


async def refuse_invalid_token(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-wide guard: a bearer token that is presented must be valid, on public routes too (401).

    A client that believes it is authenticated must learn that it is not, rather than silently
    get the public view. Routes that resolve the token anyway (``authenticate``, a ``viewer``
    parameter, the per-application routes) are left to do it once; liveness never touches the
    database, and the API documentation is static.
    """
    header = connection.headers.get("authorization")
    if header is None or handler.opt.get("credentials") == "ignored":
        return
    if connection.url.path.startswith(OWN_CREDENTIALS_PREFIX) or connection.url.path.startswith("/schema"):
        return
    if authenticate in handler.resolve_guards() or "viewer" in handler_parameters(handler):
        return
    database: Database = connection.app.state.database
    async with database.connection() as conn:
        await resolve(header, conn)


def allow(*roles: Role) -> Guard:
    """A guard after ``authenticate``: the role is checked before the body is read into a type or parsed.

    A caller whose role may not use the endpoint gets 403, never a complaint about a body it
    should not have sent (the services check the role again: they are also called from the CLI).
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        require_role(connection.state.principal, *roles)

    return guard


async def resolve(header: str, conn: asyncpg.Connection) -> Principal:
    """The staff member an ``Authorization`` header names; 401 for anything else."""
    token = tokens.bearer(header)
    if token is None:
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    return await resolve_token(token, conn)


async def resolve_token(token: str, conn: asyncpg.Connection) -> Principal:
    principal = await queries.principal_for(conn, tokens.digest(token))
    if principal is None:
        raise Unauthenticated("The bearer token is unknown or has been revoked.")
    return principal


async def provide_viewer(request: Request[Any, Any, Any], conn: Conn) -> Principal | None:
    """On public endpoints: the caller if a token was sent (drafts are shown to their agency), else None.

    A token that is sent but wrong is a 401 here too: a client that believes it is authenticated
    must learn that it is not, rather than silently see the public view.
    """
    header = request.headers.get("authorization")
    return None if header is None else await resolve(header, conn)


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The principal the ``authenticate`` guard stored; only staff endpoints ask for it."""
    principal: Principal = request.state.principal
    return principal


def require_role(principal: Principal, *roles: Role) -> Principal:
    if principal.role not in roles:
        raise Forbidden(f"This endpoint is for: {', '.join(roles)}; your token's role is {principal.role}.")
    return principal


def require_agency(principal: Principal, agency_code: str, what: str) -> None:
    """Another agency's object is reported as absent (404), so its existence is not revealed."""
    if not principal.acts_for(agency_code):
        raise NotFound(what)
