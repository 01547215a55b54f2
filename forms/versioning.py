"""Published versions are immutable: canonical bytes, their SHA-256, and what changed between two."""

from __future__ import annotations

import hashlib
from typing import Any, Final

import msgspec

from forms.schema import FieldSpec, FormSchema, GroupField

#: Sorted keys, defaults omitted (the schema Structs say ``omit_defaults``), no whitespace: the same
#: schema always gives the same bytes, however the agency wrote it.
_canonical: Final = msgspec.json.Encoder(order="sorted")


def canonical_bytes(schema: FormSchema) -> bytes:
    return _canonical.encode(schema)


def fingerprint(schema: FormSchema) -> str:
    """Hex SHA-256 of the canonical bytes: the identity of a version's content."""
    return hashlib.sha256(canonical_bytes(schema)).hexdigest()


class FieldChange(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    changes: dict[str, list[Any]]
    """Property name → ``[before, after]`` (``null`` where absent)."""


class VersionDiff(msgspec.Struct, frozen=True, kw_only=True):
    added: list[str]
    removed: list[str]
    changed: list[FieldChange]
    form_changes: dict[str, list[Any]]
    """Form-level properties (title, signature, procedure, ...) that differ."""


def _flatten(schema: FormSchema) -> dict[str, dict[str, Any]]:
    """Field path (``representatives/full_name`` inside a group) → the field's properties."""

    def walk(fields: list[FieldSpec], prefix: str, section: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for spec in fields:
            path = prefix + spec.id
            props = msgspec.to_builtins(spec)
            props["section"] = section
            if isinstance(spec, GroupField):
                props.pop("fields")
                out |= walk(spec.fields, path + "/", section)
            out[path] = props
        return out

    result: dict[str, dict[str, Any]] = {}
    for section in schema.sections:
        result |= walk(section.fields, "", section.id)
    return result


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        k: [before.get(k), after.get(k)] for k in sorted(before.keys() | after.keys()) if before.get(k) != after.get(k)
    }


def diff(a: FormSchema, b: FormSchema) -> VersionDiff:
    fa, fb = _flatten(a), _flatten(b)
    form_a = {k: v for k, v in msgspec.to_builtins(a).items() if k != "sections"}
    form_b = {k: v for k, v in msgspec.to_builtins(b).items() if k != "sections"}
    return VersionDiff(
        added=[p for p in fb if p not in fa],
        removed=[p for p in fa if p not in fb],
        changed=[FieldChange(field=p, changes=c) for p in fa if p in fb and (c := _changes(fa[p], fb[p]))],
        form_changes=_changes(form_a, form_b),
    )
