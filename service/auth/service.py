"""Token rules: the secret is returned once.

Platform admins issue, list and revoke every token; an agency admin manages its own agency's clerks
(issues clerk tokens, lists its agency's tokens, revokes its clerks), so that it can staff and assign
the queue without a platform admin. Another agency's token is absent (404) to it.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from service.agencies import queries as agency_queries
from service.audit import trail
from service.auth import queries, tokens
from service.auth.principal import require_role
from service.auth.schemas import IssuedToken, Principal, TokenIn, TokenOut
from service.pagination import Page, decode_cursor, page
from service.problems import Forbidden, InvalidBody, NotFound
from service.validation import FieldProblem


async def issue_token(conn: asyncpg.Connection, request: TokenIn) -> IssuedToken:
    """Create a token without an authorization check: for the CLI, which runs with database rights."""
    if (request.role == "admin") != (request.agency is None):
        detail = "must be omitted for admin tokens" if request.role == "admin" else "is required for this role"
        raise InvalidBody(f"agency {detail}.", errors=[FieldProblem(pointer="/agency", code="agency", detail=detail)])
    if request.agency is not None and await agency_queries.get_agency(conn, request.agency) is None:
        raise InvalidBody(
            f"There is no agency {request.agency}.",
            errors=[FieldProblem(pointer="/agency", code="unknown_agency", detail="is not a known agency")],
        )
    secret = tokens.generate()
    info = await queries.insert_token(
        conn, tokens.digest(secret), request.role, request.agency, request.name, list(request.permissions)
    )
    return IssuedToken(token=secret, info=info)


async def create_token(conn: asyncpg.Connection, who: Principal, request: TokenIn) -> IssuedToken:
    require_role(who, "admin", "agency-admin")
    if who.role == "agency-admin":
        if request.role != "clerk":
            raise Forbidden("An agency admin issues clerk tokens only; ask a platform admin for other roles.")
        if request.agency not in (None, who.agency_code):
            raise Forbidden("An agency admin issues tokens for its own agency only.")
        # The agency decides which of its clerks handle 個人番号 (番号法's 事務取扱担当者): it may grant that.
        request = TokenIn(role="clerk", agency=who.agency_code, name=request.name, permissions=request.permissions)
    issued = await issue_token(conn, request)
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=request.agency, action="token.issued",
        subject=str(issued.info.id), details={"role": request.role, "permissions": sorted(set(request.permissions))},
    )  # fmt: skip
    return issued


async def list_tokens(
    conn: asyncpg.Connection, who: Principal, agency: str | None, cursor: str | None, limit: int
) -> Page[TokenOut]:
    require_role(who, "admin", "agency-admin")
    if who.role == "agency-admin":
        agency = who.agency_code  # its own agency's tokens, whatever filter was asked for
    after = decode_cursor(cursor, dt.datetime, uuid.UUID)
    rows = await queries.list_tokens(conn, after, agency, limit + 1)
    return page(rows, limit, lambda t: (t.created_at.isoformat(), str(t.id)))


async def revoke_token(conn: asyncpg.Connection, who: Principal, token_id: uuid.UUID) -> None:
    """Revoking is idempotent; the revocation time of the first call is kept."""
    require_role(who, "admin", "agency-admin")
    if who.role == "agency-admin":
        target = await queries.token_owner(conn, token_id)
        if target is None or target[1] != who.agency_code:
            raise NotFound(f"There is no token {token_id}.")
        if target[0] != "clerk":
            raise Forbidden("An agency admin revokes clerk tokens only.")
    if not await queries.revoke_token(conn, token_id):
        raise NotFound(f"There is no token {token_id}.")
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=None, action="token.revoked", subject=str(token_id)
    )
