"""Answers as a person reads them: each with its field's label, and what changed between two documents.

The clerk sees what was signed in the words of the form version it was signed against (labels and
option labels of *that* version), and for an amendment, only the answers that changed. Every answer
becomes text through its field type's ``display`` (``ComponentRegistry.display``): the API's review
view, the console and anything else that shows answers take their text from here. A 個人番号
(``my_number``) is masked, value and display alike, here and in the diff: whoever needs the full
number asks for it on its own, with the permission and a reason (the service's reveal).
"""

from __future__ import annotations

from typing import Any

import msgspec

from forms.components.my_number import mask
from forms.components.registry import ComponentRegistry
from forms.schema import FieldSpec, FormSchema, GroupField, MyNumberField, Text


class Answer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    pointer: str
    """JSON pointer into the document (``/answers/...``)."""
    label: Text
    type: str
    value: Any
    """The answer as signed."""
    display: str
    """The answer for people, as its field type displays it: option labels instead of values, はい/いいえ,
    an era date with the ISO date, a prefecture's name, a file's name and size."""
    items: list[list[Answer]] | None = None
    """For a group: each item's answers."""


class AnswerChange(msgspec.Struct, frozen=True, kw_only=True):
    pointer: str
    label: Text
    before: Any
    """``None``: not answered before."""
    after: Any
    """``None``: no longer answered."""


def _type(spec: FieldSpec) -> str:
    return str(spec.__struct_config__.tag)


def _masked(fields: list[FieldSpec], item: Any) -> Any:
    """A group item (or list of them) with every 個人番号 in it masked."""
    if isinstance(item, list):
        return [_masked(fields, element) for element in item]
    if not isinstance(item, dict):
        return item
    kinds = {spec.id: spec for spec in fields}
    return {key: mask(value) if isinstance(kinds.get(key), MyNumberField) else value for key, value in item.items()}


def _shown_value(spec: FieldSpec, value: Any) -> Any:
    """The value a view may carry: a 個人番号 masked, a group's items with theirs masked."""
    if isinstance(spec, MyNumberField):
        return mask(value)
    return _masked(spec.fields, value) if isinstance(spec, GroupField) else value


def _render(fields: list[FieldSpec], answers: dict[str, Any], base: str, components: ComponentRegistry) -> list[Answer]:
    rendered = []
    for spec in fields:
        if spec.id not in answers:
            continue
        value, pointer = answers[spec.id], f"{base}/{spec.id}"
        items = None
        if isinstance(spec, GroupField) and isinstance(value, list):
            items = [
                _render(spec.fields, item, f"{pointer}/{index}", components) if isinstance(item, dict) else []
                for index, item in enumerate(value)
            ]
        rendered.append(
            Answer(
                pointer=pointer,
                label=spec.label,
                type=_type(spec),
                value=_shown_value(spec, value),
                display=components.display(spec, value),
                items=items,
            )
        )
    return rendered


def render(schema: FormSchema, answers: dict[str, Any], components: ComponentRegistry) -> list[Answer]:
    """Every answered field in the form's order, with its label (answers are already validated)."""
    return _render(schema.fields(), answers, "/answers", components)


def _diff(fields: list[FieldSpec], before: dict[str, Any], after: dict[str, Any], base: str) -> list[AnswerChange]:
    changes = []
    for spec in fields:
        old, new, pointer = before.get(spec.id), after.get(spec.id), f"{base}/{spec.id}"
        if old == new:
            continue
        if isinstance(spec, GroupField) and isinstance(old, list) and isinstance(new, list):
            for index in range(max(len(old), len(new))):
                a = old[index] if index < len(old) else {}
                b = new[index] if index < len(new) else {}
                if index >= len(old) or index >= len(new):
                    changes.append(
                        AnswerChange(
                            pointer=f"{pointer}/{index}",
                            label=spec.label,
                            before=_masked(spec.fields, old[index]) if index < len(old) else None,
                            after=_masked(spec.fields, new[index]) if index < len(new) else None,
                        )
                    )
                elif isinstance(a, dict) and isinstance(b, dict):
                    changes += _diff(spec.fields, a, b, f"{pointer}/{index}")
            continue
        if old is not None:
            old = _shown_value(spec, old)
        if new is not None:
            new = _shown_value(spec, new)
        changes.append(AnswerChange(pointer=pointer, label=spec.label, before=old, after=new))
    return changes


def diff(schema: FormSchema, before: dict[str, Any], after: dict[str, Any]) -> list[AnswerChange]:
    """The answers that differ, by pointer, in the (newer) form's order; group items are compared by index."""
    return _diff(schema.fields(), before, after, "/answers")


def _changed_spec(schema: FormSchema, pointer: str) -> FieldSpec | None:
    """The field a change's pointer names: ``/answers/<id>``, a group item, or a sub-field of one."""
    path = pointer.split("/")[2:]  # /answers/<id>[/<index>[/<sub id>]]
    spec = next((f for f in schema.fields() if path and f.id == path[0]), None)
    if isinstance(spec, GroupField) and len(path) == 3:
        return next((sub for sub in spec.fields if sub.id == path[2]), None)
    return spec


def _shown(spec: FieldSpec | None, value: Any, components: ComponentRegistry) -> str:
    if value is None:
        return ""
    if isinstance(spec, GroupField) and isinstance(value, dict):  # a whole item added or removed
        subs = {sub.id: sub for sub in spec.fields}
        return "; ".join(f"{subs[k].label.ja}: {components.display(subs[k], v)}" for k, v in value.items() if k in subs)
    return components.display(spec, value) if spec is not None else str(value)


def change_display(schema: FormSchema, change: AnswerChange, components: ComponentRegistry) -> tuple[str, str]:
    """A change's two sides as people read them (``""``: not answered); a whole group item as its answers."""
    spec = _changed_spec(schema, change.pointer)
    return _shown(spec, change.before, components), _shown(spec, change.after, components)
