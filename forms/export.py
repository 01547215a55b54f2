"""JSON Schema (2020-12) of a version's answers document, for clients and other validators.

It says everything JSON Schema can say: types, bounds, patterns, options, and the conditions as
``if``/``then``/``else``. What it cannot (a check digit, date bounds, a condition inside a group that
mixes the item's fields with top-level ones) is listed under ``x-shinsei-not-expressed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from forms.compile import NONCE_PATTERN, UUID_PATTERN, CompiledField, CompiledForm, CompiledScope
from forms.components.base import SHA256_PATTERN
from forms.conditions import references, to_json_schema
from forms.schema import Condition, CorporateNumberField, DateField, MyNumberField

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
Rule = tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]


def _lists(scope: CompiledScope) -> Callable[[str], bool]:
    return lambda name: (f := scope.by_id.get(name)) is not None and f.component.is_list


def _reads(cond: Condition | None, scope: CompiledScope) -> set[str]:
    """Which scopes a condition inside ``scope`` reads: ``local`` (siblings), ``top``, or both."""
    return {"local" if name in scope.by_id else "top" for _, name in references(cond, "")} if cond else set()


def _condition_scopes(f: CompiledField, scope: CompiledScope) -> set[str]:
    return _reads(f.spec.visible_if, scope) | _reads(f.spec.required_if, scope)


def _presence_rules(f: CompiledField, is_list: Callable[[str], bool]) -> list[Rule]:
    """(if, then, else) over the object holding ``f``: shown only when visible, needed when required."""
    name = f.spec.id
    must = {"required": [name]} | ({"properties": {name: {"minLength": 1}}} if f.is_string else {})
    rules: list[Rule] = []
    visible = to_json_schema(f.spec.visible_if, is_list) if f.spec.visible_if else None
    if visible is not None:
        rules.append((visible, must if f.spec.required else {}, {"not": {"required": [name]}}))
    if f.spec.required_if is not None:
        when = to_json_schema(f.spec.required_if, is_list)
        rules.append(({"allOf": [visible, when]} if visible else when, must, None))
    return rules


def _rule(condition: dict[str, Any], then: dict[str, Any], otherwise: dict[str, Any] | None) -> dict[str, Any]:
    return {"if": condition, "then": then} | ({"else": otherwise} if otherwise is not None else {})


def _object_schema(scope: CompiledScope, is_item: bool) -> dict[str, Any]:
    properties = {}
    for f in scope.fields:
        schema = f.component.json_schema(f.spec)
        if f.group is not None:
            schema = schema | {"items": _object_schema(f.group, is_item=True)}
        properties[f.spec.id] = {"title": f.spec.label.ja} | schema
    result: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required := [f.spec.id for f in scope.fields if f.spec.required and f.visible is None]:
        result["required"] = required
    rules = [
        _rule(*rule)
        for f in scope.fields
        if not is_item or _condition_scopes(f, scope) <= {"local"}  # others are hoisted or not expressed
        for rule in _presence_rules(f, _lists(scope))
    ]
    if rules:
        result["allOf"] = rules
    return result


def _hoisted(form: CompiledForm) -> list[dict[str, Any]]:
    """Item rules that read only top-level fields, stated at the answers level over the group's items."""
    rules = []
    for group in form.answers.fields:
        if group.group is None:
            continue
        for f in group.group.fields:
            if _condition_scopes(f, group.group) != {"top"}:
                continue
            for condition, then, otherwise in _presence_rules(f, _lists(form.answers)):
                wrap: dict[str, Any] = {"properties": {group.spec.id: {"items": then}}}
                other = {"properties": {group.spec.id: {"items": otherwise}}} if otherwise is not None else None
                rules.append(_rule(condition, wrap, other))
    return rules


def not_expressed(form: CompiledForm) -> list[str]:
    """Where the exported schema is looser than the server: pointers into the answers, with why."""

    def gaps(f: CompiledField, where: str) -> list[str]:
        spec = f.spec
        if isinstance(spec, CorporateNumberField | MyNumberField):
            return [f"{where} (check digit)"]
        if isinstance(spec, DateField) and any(
            v is not None for v in (spec.min, spec.max, spec.min_field, spec.max_field)
        ):
            return [f"{where} (date bounds)"]
        return []

    found = []
    for f in form.answers.fields:
        found += gaps(f, f"/answers/{f.spec.id}")
        if (group := f.group) is None:
            continue
        for sub in group.fields:
            where = f"/answers/{f.spec.id}/*/{sub.spec.id}"
            found += gaps(sub, where)
            if len(_condition_scopes(sub, group)) > 1:
                found.append(f"{where} (condition mixing item and top-level fields)")
    return found


def json_schema(form: CompiledForm) -> dict[str, Any]:
    answers = _object_schema(form.answers, is_item=False)
    if hoisted := _hoisted(form):
        answers.setdefault("allOf", []).extend(hoisted)
    return {
        "$schema": DIALECT,
        "$id": f"urn:shinsei:form:{form.schema.id}:{form.version}",
        "title": form.schema.title.ja,
        "type": "object",
        "properties": {
            "form_id": {"const": form.schema.id},
            "form_version": {"const": form.version},
            "nonce": {"type": "string", "pattern": NONCE_PATTERN},
            "amends": {
                "type": "object",
                "properties": {
                    "submission_id": {"type": "string", "pattern": UUID_PATTERN},
                    "document_sha256": {"type": "string", "pattern": SHA256_PATTERN},
                },
                "required": ["submission_id", "document_sha256"],
                "additionalProperties": False,
            },
            "answers": answers,
        },
        "required": ["form_id", "form_version", "answers"],
        "additionalProperties": False,
        "x-shinsei-not-expressed": not_expressed(form),
    }
