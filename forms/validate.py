"""The slow path: walk a decoded document and collect every error, each with its pointer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from forms.conditions import MISSING
from forms.errors import FieldError, collect_errors, escape

if TYPE_CHECKING:
    from forms.compile import CompiledForm, CompiledScope

_ENVELOPE_KEYS = ("form_id", "form_version", "answers", "nonce", "amends")


def collect_document(form: CompiledForm, document: Any) -> list[FieldError]:
    if not isinstance(document, dict):
        return [FieldError(pointer="", code="type", detail="the document must be a JSON object")]
    errors: list[FieldError] = [
        FieldError(pointer=f"/{escape(str(key))}", code="unknown_field", detail="is not a known field")
        for key in document
        if key not in _ENVELOPE_KEYS
    ]
    for key, expected in (("form_id", form.schema.id), ("form_version", form.version)):
        if key not in document:
            errors.append(FieldError(pointer=f"/{key}", code="required", detail="is required"))
        elif type(document[key]) is not type(expected) or document[key] != expected:
            errors.append(
                FieldError(
                    pointer=f"/{key}", code="form_mismatch", detail=f"this form is {form.schema.id} v{form.version}"
                )
            )
    for key, annotation in form.document_type.__annotations__.items():
        if key in ("nonce", "amends") and key in document:
            errors.extend(collect_errors(document[key], annotation, f"/{key}"))
    answers = document.get("answers", MISSING)
    if answers is MISSING:
        errors.append(FieldError(pointer="/answers", code="required", detail="is required"))
    elif not isinstance(answers, dict):
        errors.append(FieldError(pointer="/answers", code="type", detail="must be an object"))
    else:
        errors.extend(collect_scope(form.answers, answers, "/answers", None))
    return errors


def collect_scope(
    scope: CompiledScope, values: dict[str, Any], pointer: str, top: dict[str, Any] | None
) -> list[FieldError]:
    errors = [
        FieldError(pointer=f"{pointer}/{escape(str(key))}", code="unknown_field", detail="is not a field of this form")
        for key in values
        if key not in scope.by_id
    ]
    local = values
    top_get = top if top is not None else values

    def lookup(name: str) -> Any:
        return (local if name in scope.by_id else top_get).get(name, MISSING)

    for f in scope.fields:
        here = f"{pointer}/{escape(f.spec.id)}"
        value = values.get(f.spec.id, MISSING)
        if f.visible is not None and not f.visible(local, top_get):
            if value is not MISSING:
                errors.append(
                    FieldError(pointer=here, code="not_applicable", detail="does not apply given the other answers")
                )
            continue
        if value is MISSING:
            if f.required(local, top_get):
                errors.append(FieldError(pointer=here, code="required", detail="is required"))
            continue
        if f.is_string and value == "" and f.required(local, top_get):
            errors.append(FieldError(pointer=here, code="required", detail="is required"))
            continue
        if f.group is not None:
            errors.extend(_collect_group(f.group, f.spec, value, here, top_get))
        else:
            errors.extend(f.component.check(f.spec, value, here, lookup, f.annotation))
    return errors


def _collect_group(scope: CompiledScope, spec: Any, value: Any, pointer: str, top: dict[str, Any]) -> list[FieldError]:
    if not isinstance(value, list):
        return [FieldError(pointer=pointer, code="type", detail="must be a list of items")]
    errors = []
    if spec.min_items is not None and len(value) < spec.min_items:
        errors.append(FieldError(pointer=pointer, code="min_items", detail=f"needs at least {spec.min_items} items"))
    if spec.max_items is not None and len(value) > spec.max_items:
        errors.append(FieldError(pointer=pointer, code="max_items", detail=f"takes at most {spec.max_items} items"))
    for index, item in enumerate(value):
        if isinstance(item, dict):
            errors.extend(collect_scope(scope, item, f"{pointer}/{index}", top))
        else:
            errors.append(FieldError(pointer=f"{pointer}/{index}", code="type", detail="must be an object"))
    return errors
