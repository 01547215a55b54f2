"""Console pages under /console: sign-in, the queue, an application, forms and staff.

Every page calls the service functions the JSON API calls, with the principal of the signed-in
session, so agency scoping, roles, the state machine, ETags and the audit trail are the API's own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie, State
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from service.auth.principal import Caller
from service.console import sessions
from service.console.application_pages import (
    application,
    assign,
    attachment,
    comment,
    decide,
    evidence_bundle,
    notice_pdf,
    receipt_pdf,
    release,
)
from service.console.form_pages import (
    forms_page,
    forms_upload,
    preview,
    preview_check,
    publish,
    publish_confirm,
    retire,
    retire_confirm,
)
from service.console.labels import LANGS
from service.console.pages import (
    HERE,
    LANG_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    CsrfRefused,
    SignInRequired,
    log,
    page,
    posted_text,
    secure_cookies,
    security_headers,
    signed_in,
)
from service.console.queue_pages import claim_next, queue_page
from service.console.staff_pages import issue_clerk_token, revoke_clerk_token, staff_page
from service.console.templating import engine
from service.db import Conn
from service.problems import Forbidden, NotFound, ProblemError, Unauthenticated
from service.settings import Settings
from service.validation import FieldProblem

#: Swagger UI for /schema from the app itself (vendored from npm's swagger-ui-dist), not from a CDN.
SWAGGER_ASSETS: Final[dict[str, Any]] = {
    "js_url": "/console/static/vendor/swagger-ui/swagger-ui-bundle.js",
    "css_url": "/console/static/vendor/swagger-ui/swagger-ui.css",
    "standalone_preset_js_url": "/console/static/vendor/swagger-ui/swagger-ui-standalone-preset.js",
    "favicon": "<link rel='icon' type='image/png' href='/console/static/vendor/swagger-ui/favicon-32x32.png'>",
}


@get("/", include_in_schema=False)
async def home() -> Redirect:
    return Redirect("/console/queue")


@get("/login", include_in_schema=False)
async def login_form(request: Request[Any, Any, Any]) -> Template:
    return _login_page(request, message="signed_out" if request.query_params.get("bye") else None)


def _login_page(
    request: Request[Any, Any, Any], *, status: int = 200, message: str | None = None, error: str | None = None
) -> Template:
    """The sign-in form, with a CSRF token bound to a pre-session cookie (sign-in CSRF is refused too)."""
    secret = request.cookies.get(LOGIN_COOKIE) or sessions.new_secret()
    response = page(request, "login.html", status=status, login_csrf=sessions.csrf_token(secret), message=message,
                    error=error)  # fmt: skip
    response.cookies.append(
        Cookie(key=LOGIN_COOKIE, value=secret, path="/console", httponly=True, secure=secure_cookies(request),
               samesite="strict", max_age=3600)
    )  # fmt: skip
    return response


@post("/login", include_in_schema=False, status_code=303)
async def login(request: Request[Any, Any, Any], conn: Conn, state: State) -> Response[Any]:
    form = await request.form()
    secret = request.cookies.get(LOGIN_COOKIE)
    if secret is None or not sessions.csrf_matches(secret, posted_text(form, "csrf_token", 100)):
        raise CsrfRefused
    settings: Settings = state.settings
    try:
        session_secret, _ = await sessions.sign_in(
            conn, posted_text(form, "token", 300), dt.timedelta(seconds=settings.console_session_seconds)
        )
    except Unauthenticated:
        return _login_page(request, status=401, error="bad_token")
    except Forbidden:
        return _login_page(request, status=403, error="not_console_role")
    response = Redirect("/console/queue", status_code=303)
    response.cookies.append(
        Cookie(key=SESSION_COOKIE, value=session_secret, path="/console", httponly=True, secure=secure_cookies(request),
               samesite="strict", max_age=settings.console_session_seconds)
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@post("/logout", include_in_schema=False, guards=[signed_in], status_code=303)
async def logout(request: Request[Any, Any, Any], conn: Conn, principal: Caller) -> Redirect:
    secret = request.cookies.get(SESSION_COOKIE)
    assert secret is not None  # the guard found the session
    await sessions.sign_out(conn, principal, secret)
    response = Redirect("/console/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@get("/lang/{lang:str}", include_in_schema=False)
async def choose_language(request: Request[Any, Any, Any], lang: FromPath[str]) -> Redirect:
    """Remember the language for a year; ``next`` may only point back into the console."""
    target = request.query_params.get("next") or "/console/queue"
    if not target.startswith("/console/") or "//" in target or "\\" in target:
        target = "/console/queue"
    response = Redirect(target, status_code=303)
    if lang in LANGS:
        response.cookies.append(
            Cookie(key=LANG_COOKIE, value=lang, path="/", httponly=True, secure=secure_cookies(request),
                   samesite="strict", max_age=365 * 86400)
        )  # fmt: skip
    return response


@get("/{rest:path}", include_in_schema=False)
async def unknown_page(rest: FromPath[str]) -> None:
    """Any other console address is the console's 404 page, not the API's problem document."""
    raise NotFound("There is no such page.")


def _error_page(request: Request[Any, Any, Any], status: int, key: str, detail: str | None = None,
                errors: list[FieldProblem] | None = None) -> Template:  # fmt: skip
    return page(request, "error.html", status=status, key=key, detail=detail, errors=errors or [])


def _on_sign_in(request: Request[Any, Any, Any], _: SignInRequired) -> Response[Any]:
    if request.headers.get("hx-request") == "true":
        return Response(None, status_code=204, headers={"HX-Redirect": "/console/login"})
    return Redirect("/console/login", status_code=303)


def _on_csrf(request: Request[Any, Any, Any], _: CsrfRefused) -> Template:
    log.warning("console_csrf_refused", path=request.url.path)
    return _error_page(request, 403, "csrf")


def _on_problem(request: Request[Any, Any, Any], exc: ProblemError) -> Template:
    key = {404: "not_found", 403: "forbidden"}.get(exc.status, "error_page")
    detail = None if exc.status == 404 else exc.detail  # a 404 says nothing about what was looked for
    return _error_page(request, exc.status, key, detail, exc.errors)


def _on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Template:
    return _error_page(request, 400, "error_page", "A parameter of this page is not valid.")


def _on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Template:
    if isinstance(exc, NotFoundException):
        return _error_page(request, 404, "not_found")
    return _error_page(request, exc.status_code, "error_page", str(exc.detail))


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Template:
    instance = f"urn:uuid:{uuid.uuid4()}"
    log.error("console_unhandled_exception", instance=instance,
              exc_type=f"{type(exc).__module__}.{type(exc).__qualname__}", frames=_frames(exc))  # fmt: skip
    return _error_page(request, 500, "error_page", f"An unexpected error occurred; quote {instance} when reporting it.")


def _frames(exc: BaseException) -> list[str]:
    """Where it failed (file, line, function): never the message, which may quote personal data."""
    frames, tb = [], exc.__traceback__
    while tb is not None:
        frames.append(f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}:{tb.tb_frame.f_code.co_name}")
        tb = tb.tb_next
    return frames[-12:]


def template_config() -> TemplateConfig[Any]:
    return TemplateConfig(instance=engine(HERE / "templates"))


def console_router(settings: Settings) -> Router:
    """The console's pages and its static files (its CSS, scripts and the vendored htmx and Swagger UI)."""
    static = create_static_files_router(
        path="/static", directories=[HERE / "static"], include_in_schema=False, name="console_static"
    )
    return Router(
        path="/console",
        route_handlers=[
            static,
            home,
            login_form,
            login,
            logout,
            choose_language,
            queue_page,
            claim_next,
            application,
            decide,
            comment,
            assign,
            release,
            receipt_pdf,
            notice_pdf,
            evidence_bundle,
            attachment,
            forms_page,
            forms_upload(settings.max_file_bytes),
            preview,
            preview_check(settings.max_file_bytes),
            publish_confirm,
            publish,
            retire_confirm,
            retire,
            staff_page,
            issue_clerk_token,
            revoke_clerk_token,
            unknown_page,
        ],
        middleware=[security_headers],
        exception_handlers={
            SignInRequired: _on_sign_in,
            CsrfRefused: _on_csrf,
            ProblemError: _on_problem,
            ValidationException: _on_validation,
            HTTPException: _on_http,
            Exception: _on_unexpected,
        },
        include_in_schema=False,
    )
