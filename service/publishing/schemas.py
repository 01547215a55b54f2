"""Wire types for forms and their versions."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

from forms import VersionDiff
from forms.schema import Text

VersionStatus = Literal["draft", "published", "retired"]


class VersionSummary(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    status: VersionStatus
    sha256: str | None
    """Hex SHA-256 of the version's canonical bytes; set once published."""
    created_at: dt.datetime
    published_at: dt.datetime | None
    retired_at: dt.datetime | None


class FormVersionOut(msgspec.Struct, frozen=True, kw_only=True):
    form_id: str
    agency: str
    procedure: str
    version: int
    status: VersionStatus
    sha256: str | None
    created_at: dt.datetime
    published_at: dt.datetime | None
    retired_at: dt.datetime | None
    schema: dict[str, Any]


class FormOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    agency: str
    procedure: str
    title: Text
    latest: FormVersionOut | None
    """The newest published (not retired) version: the one new submissions use."""
    versions: list[VersionSummary]


class FormListItem(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    agency: str
    procedure: str
    title: Text
    latest_version: int
    latest_sha256: str


class ValidationOut(msgspec.Struct, frozen=True, kw_only=True):
    valid: bool
    form_id: str
    form_version: int
    form_version_status: VersionStatus
    accepting_submissions: bool
    notice: str | None = None


class DiffOut(msgspec.Struct, frozen=True, kw_only=True):
    form_id: str
    from_version: int
    to_version: int
    diff: VersionDiff
