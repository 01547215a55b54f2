"""Console sign-in: a staff token buys a server-side session; the browser keeps only a random secret.

The cookie holds 256 random bits; the database keeps their SHA-256 (as for API tokens), so a copy
of the table signs nobody in. The CSRF token of a page is derived from the same secret, so it needs
no storage and a page of one session is useless to another.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import asyncpg

from service.audit import trail
from service.auth import queries as auth_queries
from service.auth import tokens
from service.auth.schemas import Principal
from service.console import queries
from service.console.queries import SessionPrincipal
from service.problems import Forbidden, Unauthenticated


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(b"console-session:" + secret.encode()).digest()


def csrf_token(secret: str) -> str:
    """The token every form of this session carries; only a page served to the cookie's holder has it."""
    return hashlib.sha256(b"console-csrf:" + secret.encode()).hexdigest()


def csrf_matches(secret: str, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(csrf_token(secret), offered)


async def sign_in(conn: asyncpg.Connection, token: str, lifetime: dt.timedelta) -> tuple[str, Principal]:
    """A new session for a staff token (clerk or agency admin); the token itself is never stored or logged."""
    token = token.strip()
    principal = await auth_queries.principal_for(conn, tokens.digest(token)) if 0 < len(token) <= 200 else None
    if principal is None:
        raise Unauthenticated("The token is unknown or has been revoked.")
    if principal.role not in ("clerk", "agency-admin"):
        raise Forbidden("The console is for an agency's clerks and admins; platform admins use the API.")
    secret = new_secret()
    session_id = await queries.insert_session(conn, digest(secret), principal.token_id, lifetime)
    await trail.record(
        conn, actor=str(principal.token_id), role=principal.role, agency=principal.agency_code,
        action="console.signed_in", subject=str(session_id),
    )  # fmt: skip
    return secret, principal


async def resolve(conn: asyncpg.Connection, secret: str) -> SessionPrincipal | None:
    if not 0 < len(secret) <= 100:
        return None
    return await queries.session_principal(conn, digest(secret))


async def sign_out(conn: asyncpg.Connection, who: Principal, secret: str) -> None:
    if await queries.end_session(conn, digest(secret)) is not None:
        await trail.record(
            conn, actor=str(who.token_id), role=who.role, agency=who.agency_code, action="console.signed_out",
            subject=str(who.token_id),
        )  # fmt: skip
