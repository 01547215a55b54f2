"""Form endpoints: agency admins write and publish; everyone reads published versions."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from forms import FormSchema
from service.auth.principal import Caller, Viewer, allow, authenticate
from service.body import check_json_body
from service.db import Conn
from service.offload import cpu_bound
from service.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, VersionNumber
from service.publishing import service
from service.publishing.cache import CompiledForms
from service.publishing.schemas import DiffOut, FormListItem, FormOut, FormVersionOut, ValidationOut
from service.services import Injected
from service.settings import Settings

Compiled = NamedDependency[CompiledForms]
ADMINS = [authenticate, allow("admin", "agency-admin")]
SCHEMA_BODY = "The form schema document, as JSON or as YAML (`Content-Type: application/yaml`)."


def provide_compiled_forms(services: Injected) -> CompiledForms:
    compiled: CompiledForms = services.compiled_forms
    return compiled


def _content_type(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("content-type", "application/json")


async def _read_schema(
    request: Request[Any, Any, Any], compiled_forms: CompiledForms, services: Injected
) -> FormSchema:
    raw = await request.body()
    settings: Settings = services.settings
    return await cpu_bound(
        len(raw), service.read_schema, raw, _content_type(request), compiled_forms.registry, settings.max_json_depth
    )


class FormController(Controller):
    path = "/api/v1/forms"
    tags = ("forms",)

    @get("/", summary="Published forms")
    async def list_forms(
        self,
        conn: Conn,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        agency: Annotated[str | None, QueryParameter(max_length=32, description="Agency code.")] = None,
        procedure: Annotated[str | None, QueryParameter(max_length=80, description="Procedure id.")] = None,
    ) -> Page[FormListItem]:
        return await service.list_forms(conn, agency, procedure, cursor, limit)

    @post(
        "/",
        summary="Create a form (draft version 1)",
        description=SCHEMA_BODY,
        status_code=HTTP_201_CREATED,
        guards=ADMINS,
    )
    async def create_form(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Caller,
        compiled_forms: Compiled,
        services: Injected,
    ) -> FormVersionOut:
        schema = await _read_schema(request, compiled_forms, services)
        return await service.create_form(conn, principal, schema)

    @get("/{form_id:str}", summary="A form: its current version and version list")
    async def get_form(self, conn: Conn, viewer: Viewer, form_id: FromPath[str]) -> FormOut:
        return await service.get_form(conn, viewer, form_id)

    @put(
        "/{form_id:str}/draft",
        summary="Save the draft (a new version if none)",
        description=SCHEMA_BODY,
        guards=ADMINS,
    )
    async def save_draft(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        principal: Caller,
        compiled_forms: Compiled,
        form_id: FromPath[str],
        services: Injected,
    ) -> Response[FormVersionOut]:
        schema = await _read_schema(request, compiled_forms, services)
        version, created = await service.save_draft(conn, principal, form_id, schema)
        return Response(version, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @post("/{form_id:str}/draft/publish", summary="Publish the draft", status_code=HTTP_200_OK, guards=ADMINS)
    async def publish(
        self, conn: Conn, principal: Caller, compiled_forms: Compiled, form_id: FromPath[str]
    ) -> FormVersionOut:
        return await service.publish(conn, principal, form_id, compiled_forms)

    @get("/{form_id:str}/versions/{number:int}", summary="One version")
    async def get_version(
        self, conn: Conn, viewer: Viewer, form_id: FromPath[str], number: VersionNumber
    ) -> FormVersionOut:
        return await service.get_version(conn, viewer, form_id, number)

    @post(
        "/{form_id:str}/versions/{number:int}/retire",
        summary="Retire a published version",
        status_code=HTTP_200_OK,
        guards=ADMINS,
    )
    async def retire(
        self, conn: Conn, principal: Caller, form_id: FromPath[str], number: VersionNumber
    ) -> FormVersionOut:
        return await service.retire(conn, principal, form_id, number)

    @get("/{form_id:str}/versions/{number:int}/json-schema", summary="JSON Schema (2020-12) of the answers document")
    async def json_schema(
        self, conn: Conn, viewer: Viewer, compiled_forms: Compiled, form_id: FromPath[str], number: VersionNumber
    ) -> Response[dict[str, Any]]:
        schema = await service.json_schema(conn, viewer, form_id, number, compiled_forms)
        return Response(schema, media_type="application/schema+json")

    @post(
        "/{form_id:str}/versions/{number:int}/validate",
        summary="Validate an answers document",
        description="Body: the answers document. 422 `form-invalid` lists every error.",
        status_code=HTTP_200_OK,
    )
    async def validate(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        viewer: Viewer,
        compiled_forms: Compiled,
        form_id: FromPath[str],
        number: VersionNumber,
        services: Injected,
    ) -> ValidationOut:
        raw = await request.body()
        check_json_body(raw, services.settings.max_json_depth, "document")
        return await service.validate(conn, viewer, form_id, number, raw, compiled_forms)

    @get("/{form_id:str}/versions/{a:int}/diff/{b:int}", summary="What changed between two versions")
    async def diff(
        self, conn: Conn, viewer: Viewer, form_id: FromPath[str], a: VersionNumber, b: VersionNumber
    ) -> DiffOut:
        return await service.diff_versions(conn, viewer, form_id, a, b)
