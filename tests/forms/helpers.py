"""Small builders for schemas and documents in tests."""

from __future__ import annotations

from typing import Any

import msgspec

from forms import CompiledForm, FieldError, default_components, parse_schema

REGISTRY = default_components()


def schema_data(*fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "test-form",
        "procedure": "test-procedure",
        "title": {"ja": "試験"},
        "sections": [{"id": "main", "title": {"ja": "本体"}, "fields": list(fields)}],
    } | extra


def field(id: str, type: str, **props: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "label": {"ja": id}} | props


def compile_fields(*fields: dict[str, Any]) -> CompiledForm:
    return CompiledForm(parse_schema(schema_data(*fields), REGISTRY), 1, REGISTRY)


def document(answers: dict[str, Any], **extra: Any) -> bytes:
    return msgspec.json.encode({"form_id": "test-form", "form_version": 1, "answers": answers} | extra)


def errors(form: CompiledForm, answers: dict[str, Any], **extra: Any) -> list[tuple[str, str]]:
    """(pointer, code) pairs, after checking that the fast and the collecting path agree."""
    raw = document(answers, **extra)
    found: list[FieldError] = form.validate(raw)
    assert (found == []) == (form.collect(msgspec.json.decode(raw)) == [])
    return [(e.pointer, e.code) for e in found]
