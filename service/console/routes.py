"""Console pages under /console: sign-in, the queue, an application, forms and staff.

Every page calls the service functions the JSON API calls, with the principal of the signed-in
session, so agency scoping, roles, the state machine, ETags and the audit trail are the API's own.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, cast

import asyncpg
import msgspec
import structlog
from litestar import Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders, State
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from forms.schema import FormSchema
from service.auth import service as auth_service
from service.auth.principal import Caller, require_role
from service.auth.schemas import Principal, TokenIn
from service.console import queries, sessions
from service.console import service as console
from service.console.labels import JST, LANGS, Labels, Lang, jst
from service.console.templating import engine
from service.console.views import answer_rows, condition_json, field_kind, group_items, prune_hidden, read_answers
from service.db import Conn
from service.pagination import DEFAULT_LIMIT
from service.problems import (
    Forbidden,
    FormInvalid,
    InvalidParameter,
    NotFound,
    ProblemError,
    SchemaInvalid,
    Unauthenticated,
)
from service.publishing import queries as publishing_queries
from service.publishing import service as publishing
from service.publishing.cache import CompiledForms
from service.queue import service as queue
from service.review import bundle
from service.review import service as review
from service.review.schemas import DecisionIn
from service.settings import Settings
from service.validation import FieldProblem

log = structlog.get_logger("shinsei.console")

HERE: Final = Path(__file__).resolve().parent
SESSION_COOKIE: Final = "shinsei_console"
LOGIN_COOKIE: Final = "shinsei_console_login"
LANG_COOKIE: Final = "shinsei_lang"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
STATUSES: Final = (
    "received", "under_review", "correction_requested", "signature_invalid", "approved", "rejected", "withdrawn"
)  # fmt: skip
FLAGS: Final = ("identity_mismatch", "verification_pending")
ASSIGNED: Final = ("any", "me", "none")
DECISIONS: Final = ("approve", "reject", "request_correction")
#: Sent on every console response, pages, errors and files alike.
SECURITY_HEADERS: Final = {
    "content-security-policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


#: Swagger UI for /schema from the app itself (vendored from npm's swagger-ui-dist), not from a CDN.
SWAGGER_ASSETS: Final[dict[str, Any]] = {
    "js_url": "/console/static/vendor/swagger-ui/swagger-ui-bundle.js",
    "css_url": "/console/static/vendor/swagger-ui/swagger-ui.css",
    "standalone_preset_js_url": "/console/static/vendor/swagger-ui/swagger-ui-standalone-preset.js",
    "favicon": "<link rel='icon' type='image/png' href='/console/static/vendor/swagger-ui/favicon-32x32.png'>",
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


def _secure(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    settings: Settings = connection.app.state.settings
    return not settings.development


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of every page but sign-in: an open session, and on a post this session's CSRF token."""
    secret = connection.cookies.get(SESSION_COOKIE)
    found = None
    if secret:
        pool: asyncpg.Pool = connection.app.state.pool
        async with pool.acquire() as conn:
            found = await sessions.resolve(conn, secret)  # type: ignore[arg-type]
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
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    return Template(
        template_name=template,
        context=base | context,
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _posted(form: Any, name: str, limit: int = 4000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


# ---------------------------------------------------------------- sign-in, sign-out, language


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
        Cookie(key=LOGIN_COOKIE, value=secret, path="/console", httponly=True, secure=_secure(request),
               samesite="strict", max_age=3600)
    )  # fmt: skip
    return response


@post("/login", include_in_schema=False, status_code=303)
async def login(request: Request[Any, Any, Any], conn: Conn, state: State) -> Response[Any]:
    form = await request.form()
    secret = request.cookies.get(LOGIN_COOKIE)
    if secret is None or not sessions.csrf_matches(secret, _posted(form, "csrf_token", 100)):
        raise CsrfRefused
    settings: Settings = state.settings
    try:
        session_secret, _ = await sessions.sign_in(
            conn, _posted(form, "token", 300), dt.timedelta(seconds=settings.console_session_seconds)
        )
    except Unauthenticated:
        return _login_page(request, status=401, error="bad_token")
    except Forbidden:
        return _login_page(request, status=403, error="not_console_role")
    response = Redirect("/console/queue", status_code=303)
    response.cookies.append(
        Cookie(key=SESSION_COOKIE, value=session_secret, path="/console", httponly=True, secure=_secure(request),
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
            Cookie(key=LANG_COOKIE, value=lang, path="/", httponly=True, secure=_secure(request),
                   samesite="strict", max_age=365 * 86400)
        )  # fmt: skip
    return response


# ---------------------------------------------------------------- queue


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


# ---------------------------------------------------------------- an application


async def application_page(
    request: Request[Any, Any, Any],
    conn: asyncpg.Connection,
    principal: Principal,
    submission_id: uuid.UUID,
    *,
    status: int = 200,
    problem: ProblemError | None = None,
    posted: dict[str, Any] | None = None,
) -> Template:
    state = request.app.state
    who = await review.staff_access(conn, principal, submission_id)
    view, tag = await review.clerk_view(conn, who, dt.datetime.now(dt.UTC))
    version = await publishing_queries.version(conn, view.form_id, view.revisions[-1].form_version)
    assert version is not None  # a revision references its form version
    schema = msgspec.convert(version.schema, FormSchema)
    compiled: CompiledForms = state.compiled_forms
    clerks = await console.active_clerks(conn, principal) if principal.role == "agency-admin" else []
    decisions = [d for d in DECISIONS if d in view.allowed_actions]
    return page(
        request, "application.html", status=status, view=view, etag=tag, rows=answer_rows(schema, view.answers,
        compiled.registry), problem=problem, posted=posted or {}, decisions=decisions, clerks=clerks,
        done=request.query_params.get("done"), base=f"/console/applications/{submission_id}",
        pointers=[(f"/answers/{spec.id}", spec.label) for spec in schema.fields()],
    )  # fmt: skip


@get("/applications/{submission_id:uuid}", include_in_schema=False, guards=[signed_in])
async def application(
    request: Request[Any, Any, Any], conn: Conn, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Template:
    return await application_page(request, conn, principal, submission_id)


async def _attempt(
    request: Request[Any, Any, Any],
    conn: asyncpg.Connection,
    principal: Principal,
    submission_id: uuid.UUID,
    action: Callable[[], Awaitable[object]],
    posted: dict[str, Any] | None = None,
) -> Template | Redirect:
    """Run one service action in a savepoint; a refusal is shown on the application page with its status.

    404 and 403 are not this page's business: they go to the error page like everywhere else.
    """
    try:
        async with conn.transaction():
            await action()
    except ProblemError as exc:
        if exc.status in (403, 404):
            raise
        return await application_page(request, conn, principal, submission_id, status=exc.status, problem=exc,
                                      posted=posted)  # fmt: skip
    return Redirect(f"/console/applications/{submission_id}", status_code=303)


@post("/applications/{submission_id:uuid}/decision", include_in_schema=False, guards=[signed_in], status_code=303)
async def decide(
    request: Request[Any, Any, Any], conn: Conn, state: State, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    form = await request.form()
    decision = _posted(form, "decision", 40)
    posted = {"decision": decision, "message": _posted(form, "message"), "fields": form.getall("fields", [])}
    fields = [f for f in form.getall("fields", []) if isinstance(f, str)] if decision == "request_correction" else []
    body = {"decision": decision, "message": posted["message"], "fields": fields or None}
    outcome: dict[str, str] = {}

    async def run() -> None:
        try:
            data = msgspec.convert(body, DecisionIn)
        except msgspec.ValidationError as exc:
            raise FormInvalid(f"The decision is not complete: {exc}.") from None
        out, _ = await review.decide(
            conn, principal, submission_id, _posted(form, "etag", 200) or None, data, state.receipt_key,
            dt.datetime.now(dt.UTC),
        )  # fmt: skip
        outcome["status"] = out.status

    result = await _attempt(request, conn, principal, submission_id, run, posted)
    if isinstance(result, Redirect):
        return Redirect(f"/console/applications/{submission_id}?done={outcome['status']}", status_code=303)
    return result


@post("/applications/{submission_id:uuid}/comments", include_in_schema=False, guards=[signed_in], status_code=303)
async def comment(
    request: Request[Any, Any, Any], conn: Conn, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    text = _posted(await request.form(), "body", 5000)

    async def run() -> None:
        if not 1 <= len(text.strip()) <= 4000:
            raise FormInvalid("A comment has 1 to 4000 characters.")
        await review.add_comment(conn, principal, submission_id, text)

    return await _attempt(request, conn, principal, submission_id, run)


@post("/applications/{submission_id:uuid}/assign", include_in_schema=False, guards=[signed_in], status_code=303)
async def assign(
    request: Request[Any, Any, Any], conn: Conn, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    raw = _posted(await request.form(), "clerk", 40)

    async def run() -> None:
        try:
            clerk = uuid.UUID(raw)
        except ValueError:
            raise FormInvalid("Choose a clerk.") from None
        await review.assign(conn, principal, submission_id, clerk)

    return await _attempt(request, conn, principal, submission_id, run)


@post("/applications/{submission_id:uuid}/release", include_in_schema=False, guards=[signed_in], status_code=303)
async def release(
    request: Request[Any, Any, Any], conn: Conn, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    return await _attempt(
        request, conn, principal, submission_id, lambda: review.release(conn, principal, submission_id)
    )


def _file(content: bytes, media_type: str, name: str) -> Response[bytes]:
    """PDFs open in the browser; anything else downloads. Never cached: these are personal data."""
    disposition = "inline" if media_type == "application/pdf" else "attachment"
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{fallback}"; '
            f"filename*=UTF-8''{urllib.parse.quote(name)}",
            "Cache-Control": "no-store",
        },
    )


@get("/applications/{submission_id:uuid}/receipt.pdf", include_in_schema=False, guards=[signed_in])
async def receipt_pdf(
    conn: Conn, state: State, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    who = await review.staff_access(conn, principal, submission_id)
    return _file(await console.receipt_pdf(conn, who, state.receipt_key), "application/pdf", "receipt.pdf")


@get("/applications/{submission_id:uuid}/decision-notice.pdf", include_in_schema=False, guards=[signed_in])
async def notice_pdf(
    conn: Conn, state: State, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    who = await review.staff_access(conn, principal, submission_id)
    pdf = await review.decision_notice(conn, who, "pdf", state.receipt_key)
    return _file(pdf, "application/pdf", "decision-notice.pdf")


@get("/applications/{submission_id:uuid}/bundle", include_in_schema=False, guards=[signed_in])
async def evidence_bundle(
    conn: Conn, state: State, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    who = await review.staff_access(conn, principal, submission_id)
    data = await bundle.build(
        conn, who, await state.verifiers.current(conn), state.attachments, state.receipt_key, dt.datetime.now(dt.UTC)
    )
    return _file(data, "application/zip", f"{submission_id}.zip")


@get("/applications/{submission_id:uuid}/attachments/{sha256:str}", include_in_schema=False, guards=[signed_in])
async def attachment(
    conn: Conn, state: State, principal: Caller, submission_id: FromPath[uuid.UUID], sha256: FromPath[str]
) -> Response[bytes]:
    who = await review.staff_access(conn, principal, submission_id)
    filename, media_type, content = await review.download_attachment(conn, who, sha256, state.attachments)
    return _file(content, media_type, filename)


# ---------------------------------------------------------------- forms (agency admins)


async def _own_form(conn: asyncpg.Connection, principal: Principal, form_id: str) -> publishing_queries.FormRow:
    require_role(principal, "agency-admin")
    form = await publishing_queries.get_form(conn, form_id)
    if form is None or form.agency_code != principal.agency_code:
        raise NotFound(f"There is no form {form_id}.")
    return form


@get("/forms", include_in_schema=False, guards=[signed_in])
async def forms_page(request: Request[Any, Any, Any], conn: Conn, principal: Caller) -> Template:
    return await _forms_page(request, conn, principal)


async def _forms_page(
    request: Request[Any, Any, Any],
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    status: int = 200,
    problem: ProblemError | None = None,
    saved: Any = None,
) -> Template:
    require_role(principal, "agency-admin")
    grouped: dict[str, list[queries.FormVersionRow]] = {}
    for row in await queries.agency_forms(conn, principal.agency_code or "", 1000):
        grouped.setdefault(row.id, []).append(row)
    done = request.query_params.get("done")
    return page(request, "forms.html", status=status, forms=grouped, problem=problem, saved=saved,
                done=done if done in ("published", "retired") else None)  # fmt: skip


def forms_upload(limit: int) -> Any:
    @post("/forms", include_in_schema=False, guards=[signed_in], status_code=200, request_max_body_size=limit)
    async def upload(request: Request[Any, Any, Any], conn: Conn, state: State, principal: Caller) -> Template:
        """A schema file: a new form (draft 1) or the draft of an existing one; every error listed by pointer."""
        require_role(principal, "agency-admin")
        form = await request.form()
        upload = form.get("schema")
        compiled: CompiledForms = state.compiled_forms
        try:
            if upload is None or isinstance(upload, str) or not upload.filename:
                raise SchemaInvalid("Choose a schema file.", errors=[])
            raw = await upload.read()
            name = upload.filename.lower()
            media_type = "application/yaml" if name.endswith((".yaml", ".yml")) else "application/json"
            async with conn.transaction():
                schema = publishing.read_schema(raw, media_type, compiled.registry)
                if await publishing_queries.get_form(conn, schema.id) is None:
                    saved: Any = await publishing.create_form(conn, principal, schema)
                else:
                    saved, _ = await publishing.save_draft(conn, principal, schema.id, schema)
        except ProblemError as exc:
            if exc.status == 403:
                raise
            return await _forms_page(request, conn, principal, status=exc.status, problem=exc)
        return await _forms_page(request, conn, principal, saved=saved)

    return upload


@get("/forms/{form_id:str}/versions/{number:int}/preview", include_in_schema=False, guards=[signed_in])
async def preview(
    request: Request[Any, Any, Any], conn: Conn, principal: Caller, form_id: FromPath[str], number: FromPath[int]
) -> Template:
    await _own_form(conn, principal, form_id)
    version = await publishing.get_version(conn, principal, form_id, number)
    schema = msgspec.convert(version.schema, FormSchema)
    return _preview_page(request, schema, version.version, version.status, {}, {}, None)


def _preview_page(
    request: Request[Any, Any, Any],
    schema: FormSchema,
    number: int,
    status_name: str,
    answers: dict[str, Any],
    errors: dict[str, list[str]],
    valid: bool | None,
    *,
    status: int = 200,
    hidden: set[str] | None = None,
) -> Template:
    context = {
        "schema": schema, "number": number, "version_status": status_name, "answers": answers, "errors": errors,
        "valid": valid, "condition_json": condition_json, "kind": field_kind, "group_items": group_items,
        "hidden": hidden or set(),
        "action": f"/console/forms/{schema.id}/versions/{number}/check", "error_count": sum(map(len, errors.values())),
    }  # fmt: skip
    if request.headers.get("hx-request") == "true":
        return page(request, "preview_form.html", status=status, **context)
    return page(request, "preview.html", status=status, **context)


def preview_check(limit: int) -> Any:
    @post(
        "/forms/{form_id:str}/versions/{number:int}/check",
        include_in_schema=False,
        guards=[signed_in],
        status_code=200,
        request_max_body_size=limit,
    )
    async def check(
        request: Request[Any, Any, Any],
        conn: Conn,
        state: State,
        principal: Caller,
        form_id: FromPath[str],
        number: FromPath[int],
    ) -> Template:
        """The answers as the applicant's screen would send them, checked by the API's validate service."""
        await _own_form(conn, principal, form_id)
        compiled: CompiledForms = state.compiled_forms
        form_row, version, compiled_form = await publishing.compiled_version(conn, principal, form_id, number, compiled)
        schema = compiled_form.schema
        form = await request.form()
        posted = {name: form.getall(name) for name in form if name.startswith("a.")}
        shown = await read_answers(schema, posted)
        answers = msgspec.json.decode(msgspec.json.encode(shown))
        hidden = prune_hidden(compiled_form, answers)
        document = msgspec.json.encode({"form_id": form_row.id, "form_version": version.version, "answers": answers})
        errors: dict[str, list[str]] = {}
        try:
            await publishing.validate(conn, principal, form_id, number, document, compiled)
        except FormInvalid as exc:
            for problem in exc.errors or []:
                errors.setdefault(problem.pointer or "", []).append(problem.detail)
        return _preview_page(request, schema, version.version, version.status, shown, errors, not errors,
                             status=422 if errors else 200, hidden=hidden)  # fmt: skip

    return check


@get("/forms/{form_id:str}/publish", include_in_schema=False, guards=[signed_in])
async def publish_confirm(
    request: Request[Any, Any, Any], conn: Conn, principal: Caller, form_id: FromPath[str]
) -> Template:
    await _own_form(conn, principal, form_id)
    return page(request, "confirm.html", question="confirm_publish", action=f"/console/forms/{form_id}/publish",
                what=f"{form_id}")  # fmt: skip


@post("/forms/{form_id:str}/publish", include_in_schema=False, guards=[signed_in], status_code=303)
async def publish(
    request: Request[Any, Any, Any], conn: Conn, state: State, principal: Caller, form_id: FromPath[str]
) -> Template | Redirect:
    await _own_form(conn, principal, form_id)
    try:
        async with conn.transaction():
            await publishing.publish(conn, principal, form_id, state.compiled_forms)
    except ProblemError as exc:
        if exc.status in (403, 404):
            raise
        return await _forms_page(request, conn, principal, status=exc.status, problem=exc)
    return Redirect("/console/forms?done=published", status_code=303)


@get("/forms/{form_id:str}/versions/{number:int}/retire", include_in_schema=False, guards=[signed_in])
async def retire_confirm(
    request: Request[Any, Any, Any], conn: Conn, principal: Caller, form_id: FromPath[str], number: FromPath[int]
) -> Template:
    await _own_form(conn, principal, form_id)
    return page(request, "confirm.html", question="confirm_retire",
                action=f"/console/forms/{form_id}/versions/{number}/retire", what=f"{form_id} v{number}")  # fmt: skip


@post("/forms/{form_id:str}/versions/{number:int}/retire", include_in_schema=False, guards=[signed_in], status_code=303)
async def retire(
    request: Request[Any, Any, Any], conn: Conn, principal: Caller, form_id: FromPath[str], number: FromPath[int]
) -> Template | Redirect:
    await _own_form(conn, principal, form_id)
    try:
        async with conn.transaction():
            await publishing.retire(conn, principal, form_id, number)
    except ProblemError as exc:
        if exc.status in (403, 404):
            raise
        return await _forms_page(request, conn, principal, status=exc.status, problem=exc)
    return Redirect("/console/forms?done=retired", status_code=303)


# ---------------------------------------------------------------- staff (agency admins)


@get("/staff", include_in_schema=False, guards=[signed_in])
async def staff_page(request: Request[Any, Any, Any], conn: Conn, principal: Caller) -> Template:
    require_role(principal, "agency-admin")
    return page(request, "staff.html", tokens=await console.agency_tokens(conn, principal), issued=None)


@post("/staff", include_in_schema=False, guards=[signed_in], status_code=200)
async def issue_clerk_token(request: Request[Any, Any, Any], conn: Conn, principal: Caller) -> Template:
    """The new token is in this response only (``no-store``); the list shows it from now on without its secret."""
    name = _posted(await request.form(), "name", 200)
    issued = await auth_service.create_token(conn, principal, TokenIn(role="clerk", name=name))
    return page(request, "staff.html", tokens=await console.agency_tokens(conn, principal), issued=issued)


@post("/staff/{token_id:uuid}/revoke", include_in_schema=False, guards=[signed_in], status_code=303)
async def revoke_clerk_token(conn: Conn, principal: Caller, token_id: FromPath[uuid.UUID]) -> Redirect:
    await auth_service.revoke_token(conn, principal, token_id)
    return Redirect("/console/staff", status_code=303)


@get("/{rest:path}", include_in_schema=False)
async def unknown_page(rest: FromPath[str]) -> None:
    """Any other console address is the console's 404 page, not the API's problem document."""
    raise NotFound("There is no such page.")


# ---------------------------------------------------------------- errors as pages


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
