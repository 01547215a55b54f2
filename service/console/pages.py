"""What every console page shares: the session guard with its CSRF check, security headers, rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, cast

import structlog
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.handlers import BaseRouteHandler
from litestar.response import Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.console import sessions
from service.console.labels import LANGS, Labels, Lang, jst
from service.db import Database
from service.settings import Settings

log = structlog.get_logger("shinsei.console")

HERE: Final = Path(__file__).resolve().parent
SESSION_COOKIE: Final = "shinsei_console"
LOGIN_COOKIE: Final = "shinsei_console_login"
LANG_COOKIE: Final = "shinsei_lang"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: Sent on every console response, pages, errors and files alike.
SECURITY_HEADERS: Final = {
    "content-security-policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


class SignInRequired(Exception):
    """No open session: the browser is sent to the sign-in page."""


class CsrfRefused(Exception):
    """A form post without this session's CSRF token."""


def security_headers(app: ASGIApp) -> ASGIApp:
    """Middleware of the console router: it wraps the route's exception handler, so error pages get them too."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped


def _lang(connection: ASGIConnection[Any, Any, Any, Any]) -> Lang:
    chosen = connection.cookies.get(LANG_COOKIE)
    return "en" if chosen == "en" else "ja"


def secure_cookies(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    settings: Settings = connection.app.state.settings
    # Browsers keep Secure cookies from http://127.0.0.1 and localhost (secure contexts), so only a
    # development host reached by another name over plain http needs them without it.
    return settings.env != "development"


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of every page but sign-in: an open session, and on a post this session's CSRF token."""
    secret = connection.cookies.get(SESSION_COOKIE)
    found = None
    if secret:
        database: Database = connection.app.state.database  # its checkouts time out (503), a bare pool's do not
        async with database.connection() as conn:
            found = await sessions.resolve(conn, secret)
    if secret is None or found is None:
        raise SignInRequired
    connection.state.principal = found.principal
    connection.state.staff_name = found.name
    connection.state.csrf = sessions.csrf_token(secret)
    if cast("Request[Any, Any, Any]", connection).method not in SAFE_METHODS:
        offered = connection.headers.get("x-csrf-token")
        if offered is None:
            form = await cast("Request[Any, Any, Any]", connection).form()
            value = form.get("csrf_token")
            offered = value if isinstance(value, str) else None
        if not sessions.csrf_matches(secret, offered):
            raise CsrfRefused


def page(request: Request[Any, Any, Any], template: str, *, status: int = 200, **context: Any) -> Template:
    """A page with what every template uses: labels in the chosen language, the CSRF token, who is signed in."""
    lang = _lang(request)
    principal = request.state.get("principal")
    base = {
        "t": Labels(lang),
        "lang": lang,
        "langs": LANGS,
        "jst": jst,
        "csrf": request.state.get("csrf"),
        "me": principal,
        "me_name": request.state.get("staff_name", ""),
        # Where the language switch comes back to: this page, unless it answers a post.
        "here": (request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if request.method == "GET"
        else "/console/queue",
    }
    return Template(
        template_name=template,
        context=base | context,
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def posted_text(form: Any, name: str, limit: int = 4000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""
