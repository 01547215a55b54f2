"""Form lifecycle rules: drafts are the agency's; published versions are public and immutable."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, Final

import asyncpg
import msgspec

import forms
from forms import CompiledForm, FormSchema
from forms.components.my_number import MyNumberLocation
from forms.components.my_number import locations as my_number_locations
from service.audit import trail
from service.auth.principal import require_agency, require_role
from service.auth.schemas import Principal
from service.catalog import queries as catalog_queries
from service.offload import cpu_bound
from service.pagination import Page, decode_cursor, encode_cursor
from service.problems import (
    Conflict,
    Forbidden,
    FormInvalid,
    NotFound,
    SchemaInvalid,
    UnsupportedMediaType,
    VersionState,
)
from service.publishing import queries
from service.publishing.cache import CompiledForms
from service.publishing.queries import FormRow, VersionRow
from service.publishing.schemas import DiffOut, FormListItem, FormOut, FormVersionOut, ValidationOut, VersionSummary
from service.validation import FieldProblem

YAML_TYPES: Final = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
JSON_TYPES: Final = frozenset({"application/json", ""})


def _problems(errors: list[forms.FieldError]) -> list[FieldProblem]:
    return [FieldProblem(pointer=e.pointer, code=e.code, detail=e.detail) for e in errors]


def _schema_invalid(errors: list[forms.FieldError]) -> SchemaInvalid:
    count = len(errors)
    return SchemaInvalid(f"{count} problem{'s' if count != 1 else ''} in the form schema.", errors=_problems(errors))


def read_schema(
    raw: bytes, content_type: str, registry: forms.ComponentRegistry, max_depth: int = forms.MAX_DEPTH
) -> FormSchema:
    """A schema document as sent (JSON, or YAML by its Content-Type), checked completely.

    Seconds of CPU for a large schema: routes run it through ``cpu_bound``.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in JSON_TYPES:
        fmt: forms.checks.SchemaFormat = "json"
    elif media_type in YAML_TYPES:
        fmt = "yaml"
    else:
        raise UnsupportedMediaType(f"Send the schema as application/json or application/yaml, not {media_type}.")
    try:
        return forms.parse_schema(forms.decode_document(raw, fmt, max_depth), registry)
    except forms.SchemaInvalid as exc:
        raise _schema_invalid(exc.errors) from None


def _schema(row: VersionRow) -> FormSchema:
    return msgspec.convert(row.schema, FormSchema)


def _hex(digest: bytes | None) -> str | None:
    return None if digest is None else digest.hex()


def _out(form: FormRow, row: VersionRow) -> FormVersionOut:
    return FormVersionOut(
        form_id=form.id,
        agency=form.agency_code,
        procedure=form.procedure_id,
        version=row.version,
        status=row.status,
        sha256=_hex(row.sha256),
        created_at=row.created_at,
        published_at=row.published_at,
        retired_at=row.retired_at,
        schema=row.schema,
    )


def _summary(row: VersionRow) -> VersionSummary:
    return VersionSummary(
        version=row.version,
        status=row.status,
        sha256=_hex(row.sha256),
        created_at=row.created_at,
        published_at=row.published_at,
        retired_at=row.retired_at,
    )


def _missing(form_id: str) -> NotFound:
    return NotFound(f"There is no form {form_id}.")


def _sees_drafts(viewer: Principal | None, form: FormRow) -> bool:
    """Drafts are work in progress: only the owning agency's staff (and admins) see them."""
    return viewer is not None and viewer.acts_for(form.agency_code)


async def _owned_form(conn: asyncpg.Connection, who: Principal, form_id: str) -> FormRow:
    """The form, locked for the change, if the caller's agency owns it; another agency's is a 404."""
    require_role(who, "admin", "agency-admin")
    form = await queries.get_form(conn, form_id, lock=True)
    if form is None:
        raise _missing(form_id)
    require_agency(who, form.agency_code, f"There is no form {form_id}.")
    return form


async def _find_form(conn: asyncpg.Connection, form_id: str) -> FormRow:
    form = await queries.get_form(conn, form_id)
    if form is None:
        raise _missing(form_id)
    return form


async def _visible_version(
    conn: asyncpg.Connection, viewer: Principal | None, form: FormRow, number: int
) -> VersionRow:
    row = await queries.version(conn, form.id, number)
    if row is None or (row.status == "draft" and not _sees_drafts(viewer, form)):
        raise NotFound(f"Form {form.id} has no version {number}.")
    return row


async def create_form(conn: asyncpg.Connection, who: Principal, schema: FormSchema) -> FormVersionOut:
    """A new form, as draft version 1, for a procedure of the caller's agency."""
    principal = require_role(who, "admin", "agency-admin")
    procedure = await catalog_queries.get_procedure(conn, schema.procedure)
    if procedure is None:
        raise _schema_invalid(
            [forms.FieldError(pointer="/procedure", code="unknown_procedure", detail="is not in the catalogue")]
        )
    if not principal.acts_for(procedure.agency):
        raise Forbidden(
            f"Procedure {procedure.id} belongs to {procedure.agency}; your token acts for {who.agency_code}."
        )
    form = await queries.insert_form(conn, schema.id, procedure.agency, procedure.id)
    if form is None:
        raise Conflict(
            f"A form with id {schema.id} already exists; change it with PUT /api/v1/forms/{schema.id}/draft."
        )
    return _out(form, await queries.insert_draft(conn, form.id, await _builtins(schema)))


async def _builtins(schema: FormSchema) -> Any:
    """The schema as plain data for its jsonb column: tens of ms for a large one, so off the loop."""
    return await asyncio.to_thread(msgspec.to_builtins, schema)


async def save_draft(
    conn: asyncpg.Connection, who: Principal, form_id: str, schema: FormSchema
) -> tuple[FormVersionOut, bool]:
    """Replace the draft, or start the next version's draft if all are published; True if new."""
    form = await _owned_form(conn, who, form_id)
    errors = []
    if schema.id != form.id:
        errors.append(forms.FieldError(pointer="/id", code="mismatch", detail=f"must be {form.id}"))
    if schema.procedure != form.procedure_id:
        errors.append(forms.FieldError(pointer="/procedure", code="immutable", detail=f"must stay {form.procedure_id}"))
    if errors:
        raise _schema_invalid(errors)
    data = await _builtins(schema)
    updated = await queries.update_draft(conn, form.id, data)
    if updated is not None:
        return _out(form, updated), False
    return _out(form, await queries.insert_draft(conn, form.id, data)), True


async def publish(conn: asyncpg.Connection, who: Principal, form_id: str, compiled: CompiledForms) -> FormVersionOut:
    form = await _owned_form(conn, who, form_id)
    published = await _publish(conn, form, compiled)
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=form.agency_code, action="form.published",
        subject=f"{form.id}/{published.version}", details={"sha256": published.sha256},
    )  # fmt: skip
    return published


async def _publish(conn: asyncpg.Connection, form: FormRow, compiled: CompiledForms) -> FormVersionOut:
    draft = await queries.draft(conn, form.id)
    if draft is None:
        raise VersionState(f"Form {form.id} has no draft to publish; save one with PUT /api/v1/forms/{form.id}/draft.")
    # Off the loop: a large schema takes seconds to convert, compile and hash.
    canonical, digest, my_numbers = await asyncio.to_thread(_compile_and_hash, draft, compiled)
    if my_numbers:
        await _check_my_number_basis(conn, form, my_numbers)
    latest = await queries.latest_published(conn, form.id)
    if latest is not None and latest.sha256 == digest:
        raise VersionState(f"The draft is identical to version {latest.version}, which is already published.")
    row = await queries.publish_draft(conn, form.id, canonical, digest)
    assert row is not None  # the form row is locked, so the draft is still there
    return _out(form, row)


def _compile_and_hash(draft: VersionRow, compiled: CompiledForms) -> tuple[bytes, bytes, list[MyNumberLocation]]:
    schema = _schema(draft)
    compiled.get(schema, draft.version)  # what cannot compile never goes live
    canonical = forms.canonical_bytes(schema)
    return canonical, hashlib.sha256(canonical).digest(), my_number_locations(schema)


async def _check_my_number_basis(conn: asyncpg.Connection, form: FormRow, found: list[MyNumberLocation]) -> None:
    """個人番号 may be collected only where the law allows it: the procedure must say under which provision."""
    procedure = await catalog_queries.get_procedure(conn, form.procedure_id)
    if procedure is not None and procedure.my_number is not None and procedure.my_number.allowed:
        return
    detail = (
        f"procedure {form.procedure_id} declares no legal basis for collecting 個人番号"
        " (its catalogue entry needs my_number: {allowed: true, basis: ...})"
    )
    raise _schema_invalid(
        [
            forms.FieldError(pointer=f"{where.schema_pointer}/type", code="my_number_not_allowed", detail=detail)
            for where in found
        ]
    )


async def retire(conn: asyncpg.Connection, who: Principal, form_id: str, number: int) -> FormVersionOut:
    """Stop new submissions on a published version; it stays readable. Retiring twice is harmless."""
    form = await _owned_form(conn, who, form_id)
    row = await queries.version(conn, form.id, number)
    if row is None:
        raise NotFound(f"Form {form.id} has no version {number}.")
    if row.status == "draft":
        raise VersionState(f"Version {number} of {form.id} is a draft; only published versions can be retired.")
    if row.status == "retired":
        return _out(form, row)
    retired = await queries.retire_version(conn, form.id, number)
    assert retired is not None  # the form row is locked
    await trail.record(
        conn, actor=str(who.token_id), role=who.role, agency=form.agency_code, action="form.retired",
        subject=f"{form.id}/{number}",
    )  # fmt: skip
    return _out(form, retired)


async def get_form(conn: asyncpg.Connection, viewer: Principal | None, form_id: str) -> FormOut:
    form = await _find_form(conn, form_id)
    rows = [r for r in await queries.versions(conn, form.id) if r.status != "draft" or _sees_drafts(viewer, form)]
    if not rows:
        raise _missing(form_id)
    published = [r for r in rows if r.status == "published"]
    latest = published[-1] if published else None
    return FormOut(
        id=form.id,
        agency=form.agency_code,
        procedure=form.procedure_id,
        title=_schema(latest or rows[-1]).title,
        latest=_out(form, latest) if latest else None,
        versions=[_summary(r) for r in rows],
    )


async def get_version(conn: asyncpg.Connection, viewer: Principal | None, form_id: str, number: int) -> FormVersionOut:
    form = await _find_form(conn, form_id)
    return _out(form, await _visible_version(conn, viewer, form, number))


async def compiled_version(
    conn: asyncpg.Connection, viewer: Principal | None, form_id: str, number: int, compiled: CompiledForms
) -> tuple[FormRow, VersionRow, CompiledForm]:
    form = await _find_form(conn, form_id)
    row = await _visible_version(conn, viewer, form, number)
    schema = _schema(row)
    if row.sha256 is None:  # a draft: compiled afresh each time, it may have changed
        return form, row, await asyncio.to_thread(compiled.get, schema, row.version)
    return form, row, await compiled.aget(schema, row.version, row.sha256.hex())


async def json_schema(
    conn: asyncpg.Connection, viewer: Principal | None, form_id: str, number: int, compiled: CompiledForms
) -> dict[str, Any]:
    _, _, form = await compiled_version(conn, viewer, form_id, number, compiled)
    return forms.json_schema(form)


async def _notice(conn: asyncpg.Connection, form: FormRow, row: VersionRow) -> str | None:
    if row.status == "draft":
        return f"Version {row.version} of {form.id} is a draft: it accepts no submissions until it is published."
    if row.status == "retired":
        current = await queries.latest_published(conn, form.id)
        then = f" Use version {current.version}." if current else " No version accepts submissions now."
        return f"Version {row.version} of {form.id} is retired: it accepts no new submissions.{then}"
    return None


async def validate(
    conn: asyncpg.Connection,
    viewer: Principal | None,
    form_id: str,
    number: int,
    raw: bytes,
    compiled: CompiledForms,
) -> ValidationOut:
    """Check an answers document against one version, and say plainly whether that version takes submissions."""
    form, row, compiled_form = await compiled_version(conn, viewer, form_id, number, compiled)
    errors = await cpu_bound(len(raw), compiled_form.validate, raw)
    out = ValidationOut(
        valid=not errors,
        form_id=form.id,
        form_version=row.version,
        form_version_status=row.status,
        accepting_submissions=row.status == "published",
        notice=await _notice(conn, form, row),
    )
    if errors:
        count = len(errors)
        raise FormInvalid(
            f"{count} field{'s' if count != 1 else ''} need{'s' if count == 1 else ''} attention.",
            errors=_problems(errors),
            # What the version's state is, in the problem too: the client need not ask again.
            extensions={
                "form_version_status": out.form_version_status,
                "accepting_submissions": out.accepting_submissions,
                "notice": out.notice,
            },
        )
    return out


async def diff_versions(conn: asyncpg.Connection, viewer: Principal | None, form_id: str, a: int, b: int) -> DiffOut:
    form = await _find_form(conn, form_id)
    before = await _visible_version(conn, viewer, form, a)
    after = await _visible_version(conn, viewer, form, b)
    return DiffOut(form_id=form.id, from_version=a, to_version=b, diff=forms.diff(_schema(before), _schema(after)))


async def list_forms(
    conn: asyncpg.Connection, agency: str | None, procedure: str | None, cursor: str | None, limit: int
) -> Page[FormListItem]:
    after = decode_cursor(cursor, str)
    rows = await queries.list_published_forms(conn, agency, procedure, after[0] if after else None, limit + 1)
    items = [
        FormListItem(
            id=r["id"],
            agency=r["agency_code"],
            procedure=r["procedure_id"],
            title=msgspec.convert(r["title"], forms.schema.Text),
            latest_version=r["version"],
            latest_sha256=r["sha256"].hex(),
        )
        for r in rows[:limit]
    ]
    return Page(items, encode_cursor(items[-1].id) if len(rows) > limit else None)


async def publish_schema(
    conn: asyncpg.Connection, schema: FormSchema, compiled: CompiledForms
) -> FormVersionOut | None:
    """Create or update the form from a trusted file and publish it; None if that content is already live.

    For ``shinsei forms publish`` and the sample loader, which act with the database's rights.
    """
    procedure = await catalog_queries.get_procedure(conn, schema.procedure)
    if procedure is None:
        raise _schema_invalid(
            [forms.FieldError(pointer="/procedure", code="unknown_procedure", detail="is not in the catalogue")]
        )
    form = await queries.get_form(conn, schema.id, lock=True)
    if form is None:
        form = await queries.insert_form(conn, schema.id, procedure.agency, procedure.id)
        assert form is not None  # absent under the same transaction a moment ago
    elif form.procedure_id != schema.procedure:
        raise _schema_invalid(
            [forms.FieldError(pointer="/procedure", code="immutable", detail=f"must stay {form.procedure_id}")]
        )
    latest = await queries.latest_published(conn, form.id)
    if latest is not None and latest.sha256 == hashlib.sha256(forms.canonical_bytes(schema)).digest():
        return None
    data = msgspec.to_builtins(schema)
    if await queries.update_draft(conn, form.id, data) is None:
        await queries.insert_draft(conn, form.id, data)
    return await _publish(conn, form, compiled)
