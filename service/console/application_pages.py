"""An application's page, its decision form, comments, assignment and downloads."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

import asyncpg
import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from forms.schema import FormSchema
from service import access
from service.auth.principal import Caller
from service.auth.schemas import Principal
from service.console import service as console
from service.console.pages import page, posted_text, signed_in
from service.console.views import answer_rows, change_rows
from service.db import Conn
from service.problems import FormInvalid, ProblemError
from service.publishing import queries as publishing_queries
from service.publishing.cache import CompiledForms
from service.review import bundle
from service.review import service as review
from service.review.schemas import DecisionIn
from service.services import Injected

#: The decisions of the form, in the order offered (those the state machine allows now are shown).
DECISIONS: Final = ("approve", "reject", "request_correction")


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
    services: Injected = request.app.state.services
    who = await access.staff(conn, principal, submission_id)
    compiled: CompiledForms = services.compiled_forms
    view, tag = await review.clerk_view(conn, who, services.clock(), compiled.registry)
    version = await publishing_queries.version(conn, view.form_id, view.revisions[-1].form_version)
    assert version is not None  # a revision references its form version
    schema = msgspec.convert(version.schema, FormSchema)
    clerks = await console.active_clerks(conn, principal) if principal.role == "agency-admin" else []
    decisions = [d for d in DECISIONS if d in view.allowed_actions]
    return page(
        request, "application.html", status=status, view=view, etag=tag, rows=answer_rows(schema, view.answers),
        problem=problem, posted=posted or {}, decisions=decisions, clerks=clerks,
        done=request.query_params.get("done"), base=f"/console/applications/{submission_id}",
        pointers=[(f"/answers/{spec.id}", spec.label) for spec in schema.fields()],
        changes={r.number: change_rows(schema, r.changes, compiled.registry) for r in view.revisions if r.changes},
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
    request: Request[Any, Any, Any],
    conn: Conn,
    services: Injected,
    principal: Caller,
    submission_id: FromPath[uuid.UUID],
) -> Template | Redirect:
    form = await request.form()
    decision = posted_text(form, "decision", 40)
    posted = {"decision": decision, "message": posted_text(form, "message"), "fields": form.getall("fields", [])}
    fields = [f for f in form.getall("fields", []) if isinstance(f, str)] if decision == "request_correction" else []
    body = {"decision": decision, "message": posted["message"], "fields": fields or None}
    outcome: dict[str, str] = {}

    async def run() -> None:
        try:
            data = msgspec.convert(body, DecisionIn)
        except msgspec.ValidationError as exc:
            raise FormInvalid(f"The decision is not complete: {exc}.") from None
        out, _ = await review.decide(
            conn, principal, submission_id, posted_text(form, "etag", 200) or None, data, services.receipt_key,
            services.clock(), timestamper=services.timestamper,
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
    text = posted_text(await request.form(), "body", 5000)

    async def run() -> None:
        if not 1 <= len(text.strip()) <= 4000:
            raise FormInvalid("A comment has 1 to 4000 characters.")
        await review.add_comment(conn, principal, submission_id, text)

    return await _attempt(request, conn, principal, submission_id, run)


@post("/applications/{submission_id:uuid}/assign", include_in_schema=False, guards=[signed_in], status_code=303)
async def assign(
    request: Request[Any, Any, Any], conn: Conn, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    raw = posted_text(await request.form(), "clerk", 40)

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
    conn: Conn, services: Injected, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    who = await access.staff(conn, principal, submission_id)
    return _file(
        await console.receipt_pdf(conn, who, services.receipt_key, services.typeface), "application/pdf", "receipt.pdf"
    )


@get("/applications/{submission_id:uuid}/decision-notice.pdf", include_in_schema=False, guards=[signed_in])
async def notice_pdf(
    conn: Conn, services: Injected, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    who = await access.staff(conn, principal, submission_id)
    pdf = await review.decision_notice(conn, who, "pdf", services.receipt_key, services.typeface)
    return _file(pdf, "application/pdf", "decision-notice.pdf")


@get("/applications/{submission_id:uuid}/bundle", include_in_schema=False, guards=[signed_in])
async def evidence_bundle(
    conn: Conn, services: Injected, principal: Caller, submission_id: FromPath[uuid.UUID]
) -> Response[bytes]:
    who = await access.staff(conn, principal, submission_id)
    data = await bundle.build(
        conn,
        who,
        await services.verifiers.current(conn),
        services.attachments,
        services.receipt_key,
        services.typeface,
        services.clock(),
    )
    return _file(data, "application/zip", f"{submission_id}.zip")


@get("/applications/{submission_id:uuid}/attachments/{sha256:str}", include_in_schema=False, guards=[signed_in])
async def attachment(
    conn: Conn, services: Injected, principal: Caller, submission_id: FromPath[uuid.UUID], sha256: FromPath[str]
) -> Response[bytes]:
    who = await access.staff(conn, principal, submission_id)
    filename, media_type, content = await review.download_attachment(conn, who, sha256, services.attachments)
    return _file(content, media_type, filename)
