"""Answers as a person reads them: each with its field's label, and what changed between two documents.

The clerk sees what was signed in the words of the form version it was signed against (labels and
option labels of *that* version), and for an amendment, only the answers that changed. A 個人番号
(``my_number``) is masked in both, value and display alike: whoever needs the full number asks for
it on its own, with the permission and a reason (the service's reveal).
"""

from __future__ import annotations

from typing import Any

import msgspec

from forms.components.my_number import mask
from forms.schema import (
    AttachmentField,
    BooleanField,
    ChoiceField,
    FieldSpec,
    FormSchema,
    GroupField,
    MultiChoiceField,
    MyNumberField,
    Text,
)


class Answer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    pointer: str
    """JSON pointer into the document (``/answers/...``)."""
    label: Text
    type: str
    value: Any
    """The answer as signed."""
    display: str
    """The answer for people: option labels instead of values, はい/いいえ, a file's name and size."""
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


def _display(spec: FieldSpec, value: Any) -> str:
    if isinstance(spec, BooleanField):
        return "はい" if value else "いいえ"
    if isinstance(spec, ChoiceField):
        return next((o.label.ja for o in spec.options if o.value == value), str(value))
    if isinstance(spec, MultiChoiceField):
        labels = {o.value: o.label.ja for o in spec.options}
        return "、".join(labels.get(v, str(v)) for v in value)
    if isinstance(spec, AttachmentField) and isinstance(value, dict):
        return f"{value.get('filename')} ({value.get('size')} bytes)"
    return str(value)


def _masked(fields: list[FieldSpec], item: Any) -> Any:
    """A group item (or list of them) with every 個人番号 in it masked."""
    if isinstance(item, list):
        return [_masked(fields, element) for element in item]
    if not isinstance(item, dict):
        return item
    kinds = {spec.id: spec for spec in fields}
    return {key: mask(value) if isinstance(kinds.get(key), MyNumberField) else value for key, value in item.items()}


def _render(fields: list[FieldSpec], answers: dict[str, Any], base: str) -> list[Answer]:
    rendered = []
    for spec in fields:
        if spec.id not in answers:
            continue
        value, pointer = answers[spec.id], f"{base}/{spec.id}"
        if isinstance(spec, GroupField) and isinstance(value, list):
            items = [
                _render(spec.fields, item, f"{pointer}/{index}") if isinstance(item, dict) else []
                for index, item in enumerate(value)
            ]
            rendered.append(
                Answer(
                    pointer=pointer,
                    label=spec.label,
                    type=_type(spec),
                    value=_masked(spec.fields, value),
                    display=f"{len(value)}件",
                    items=items,
                )
            )
        elif isinstance(spec, MyNumberField):
            masked = mask(value)
            rendered.append(Answer(pointer=pointer, label=spec.label, type=_type(spec), value=masked, display=masked))
        else:
            rendered.append(
                Answer(pointer=pointer, label=spec.label, type=_type(spec), value=value, display=_display(spec, value))
            )
    return rendered


def render(schema: FormSchema, answers: dict[str, Any]) -> list[Answer]:
    """Every answered field in the form's order, with its label (answers are already validated)."""
    return _render(schema.fields(), answers, "/answers")


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
        if isinstance(spec, MyNumberField):
            old, new = (None if v is None else mask(v) for v in (old, new))
        elif isinstance(spec, GroupField):
            old, new = _masked(spec.fields, old), _masked(spec.fields, new)
        changes.append(AnswerChange(pointer=pointer, label=spec.label, before=old, after=new))
    return changes


def diff(schema: FormSchema, before: dict[str, Any], after: dict[str, Any]) -> list[AnswerChange]:
    """The answers that differ, by pointer, in the (newer) form's order; group items are compared by index."""
    return _diff(schema.fields(), before, after, "/answers")
