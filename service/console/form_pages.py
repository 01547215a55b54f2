"""The agency's forms: upload, preview with live checking, publish and retire (agency admins)."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from forms.schema import FormSchema
from service.auth.principal import Caller, require_role
from service.auth.schemas import Principal
from service.console import queries
from service.console.pages import page, signed_in
from service.console.views import condition_json, field_kind, group_items, prune_hidden, read_answers
from service.db import Conn
from service.problems import FormInvalid, NotFound, ProblemError, SchemaInvalid
from service.publishing import queries as publishing_queries
from service.publishing import service as publishing
from service.publishing.cache import CompiledForms
from service.services import Injected


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
    async def upload(request: Request[Any, Any, Any], conn: Conn, services: Injected, principal: Caller) -> Template:
        """A schema file: a new form (draft 1) or the draft of an existing one; every error listed by pointer."""
        require_role(principal, "agency-admin")
        form = await request.form()
        upload = form.get("schema")
        compiled: CompiledForms = services.compiled_forms
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
        services: Injected,
        principal: Caller,
        form_id: FromPath[str],
        number: FromPath[int],
    ) -> Template:
        """The answers as the applicant's screen would send them, checked by the API's validate service."""
        await _own_form(conn, principal, form_id)
        compiled: CompiledForms = services.compiled_forms
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
    request: Request[Any, Any, Any], conn: Conn, services: Injected, principal: Caller, form_id: FromPath[str]
) -> Template | Redirect:
    await _own_form(conn, principal, form_id)
    try:
        async with conn.transaction():
            await publishing.publish(conn, principal, form_id, services.compiled_forms)
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
