"""SQL for forms and form versions."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, LiteralString

import asyncpg
import msgspec

from service.publishing.schemas import VersionStatus


class FormRow(msgspec.Struct, frozen=True):
    id: str
    agency_code: str
    procedure_id: str


class VersionRow(msgspec.Struct, frozen=True, kw_only=True):
    form_id: str
    version: int
    status: VersionStatus
    schema: dict[str, Any]
    sha256: bytes | None
    created_at: dt.datetime
    published_at: dt.datetime | None
    retired_at: dt.datetime | None


_VERSION_COLUMNS: Final = "form_id, version, status, schema, sha256, created_at, published_at, retired_at"

SELECT_FORM: Final[LiteralString] = "SELECT id, agency_code, procedure_id FROM form WHERE id = $1"
SELECT_FORM_FOR_UPDATE: Final[LiteralString] = "SELECT id, agency_code, procedure_id FROM form WHERE id = $1 FOR UPDATE"
INSERT_FORM: Final[LiteralString] = """
    INSERT INTO form (id, agency_code, procedure_id) VALUES ($1, $2, $3)
    ON CONFLICT (id) DO NOTHING
    RETURNING id, agency_code, procedure_id"""

SELECT_VERSIONS: Final[LiteralString] = f"""
    SELECT {_VERSION_COLUMNS} FROM form_version WHERE form_id = $1 ORDER BY version"""  # noqa: S608
SELECT_VERSION: Final[LiteralString] = f"""
    SELECT {_VERSION_COLUMNS} FROM form_version WHERE form_id = $1 AND version = $2"""  # noqa: S608
SELECT_DRAFT: Final[LiteralString] = f"""
    SELECT {_VERSION_COLUMNS} FROM form_version WHERE form_id = $1 AND status = 'draft'"""  # noqa: S608
SELECT_LATEST_PUBLISHED: Final[LiteralString] = f"""
    SELECT {_VERSION_COLUMNS} FROM form_version
    WHERE form_id = $1 AND status = 'published' ORDER BY version DESC LIMIT 1"""  # noqa: S608

INSERT_DRAFT: Final[LiteralString] = f"""
    INSERT INTO form_version (form_id, version, status, schema)
    VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM form_version WHERE form_id = $1), 'draft', $2)
    RETURNING {_VERSION_COLUMNS}"""  # noqa: S608
UPDATE_DRAFT: Final[LiteralString] = f"""
    UPDATE form_version SET schema = $2, updated_at = now()
    WHERE form_id = $1 AND status = 'draft'
    RETURNING {_VERSION_COLUMNS}"""  # noqa: S608
PUBLISH_DRAFT: Final[LiteralString] = f"""
    UPDATE form_version
    SET status = 'published', canonical = $2, sha256 = $3, published_at = now(), updated_at = now()
    WHERE form_id = $1 AND status = 'draft'
    RETURNING {_VERSION_COLUMNS}"""  # noqa: S608
RETIRE_VERSION: Final[LiteralString] = f"""
    UPDATE form_version SET status = 'retired', retired_at = now(), updated_at = now()
    WHERE form_id = $1 AND version = $2 AND status = 'published'
    RETURNING {_VERSION_COLUMNS}"""  # noqa: S608

LIST_PUBLISHED_FORMS: Final[LiteralString] = """
    SELECT f.id, f.agency_code, f.procedure_id, v.version, v.sha256, v.schema -> 'title' AS title
    FROM form f
    JOIN LATERAL (
        SELECT version, sha256, schema FROM form_version
        WHERE form_id = f.id AND status = 'published' ORDER BY version DESC LIMIT 1
    ) v ON true
    WHERE ($1::text IS NULL OR f.agency_code = $1)
      AND ($2::text IS NULL OR f.procedure_id = $2)
      AND ($3::text IS NULL OR f.id > $3)
    ORDER BY f.id
    LIMIT $4"""


def _version(row: asyncpg.Record | None) -> VersionRow | None:
    return None if row is None else VersionRow(**dict(row))


async def get_form(conn: asyncpg.Connection, form_id: str, *, lock: bool = False) -> FormRow | None:
    row = await conn.fetchrow(SELECT_FORM_FOR_UPDATE if lock else SELECT_FORM, form_id)
    return None if row is None else FormRow(*row)


async def insert_form(conn: asyncpg.Connection, form_id: str, agency: str, procedure: str) -> FormRow | None:
    """None when the id is taken."""
    row = await conn.fetchrow(INSERT_FORM, form_id, agency, procedure)
    return None if row is None else FormRow(*row)


async def versions(conn: asyncpg.Connection, form_id: str) -> list[VersionRow]:
    return [VersionRow(**dict(r)) for r in await conn.fetch(SELECT_VERSIONS, form_id)]


async def version(conn: asyncpg.Connection, form_id: str, number: int) -> VersionRow | None:
    return _version(await conn.fetchrow(SELECT_VERSION, form_id, number))


async def draft(conn: asyncpg.Connection, form_id: str) -> VersionRow | None:
    return _version(await conn.fetchrow(SELECT_DRAFT, form_id))


async def latest_published(conn: asyncpg.Connection, form_id: str) -> VersionRow | None:
    return _version(await conn.fetchrow(SELECT_LATEST_PUBLISHED, form_id))


async def insert_draft(conn: asyncpg.Connection, form_id: str, schema: dict[str, Any]) -> VersionRow:
    row = _version(await conn.fetchrow(INSERT_DRAFT, form_id, schema))
    assert row is not None  # RETURNING always yields a row
    return row


async def update_draft(conn: asyncpg.Connection, form_id: str, schema: dict[str, Any]) -> VersionRow | None:
    return _version(await conn.fetchrow(UPDATE_DRAFT, form_id, schema))


async def publish_draft(conn: asyncpg.Connection, form_id: str, canonical: bytes, sha256: bytes) -> VersionRow | None:
    return _version(await conn.fetchrow(PUBLISH_DRAFT, form_id, canonical, sha256))


async def retire_version(conn: asyncpg.Connection, form_id: str, number: int) -> VersionRow | None:
    return _version(await conn.fetchrow(RETIRE_VERSION, form_id, number))


async def list_published_forms(
    conn: asyncpg.Connection, agency: str | None, procedure: str | None, after: str | None, limit: int
) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_PUBLISHED_FORMS, agency, procedure, after, limit))
