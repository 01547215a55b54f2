"""What the pages show: answers as each field type displays them, and a form preview's answers read back."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

import msgspec
from litestar.datastructures import UploadFile

from forms.answers import Answer, AnswerChange, change_display
from forms.compile import CompiledForm, CompiledScope
from forms.components.registry import ComponentRegistry
from forms.schema import (
    AttachmentField,
    BooleanField,
    DecimalField,
    FieldSpec,
    FormSchema,
    GroupField,
    IntegerField,
    MultiChoiceField,
    Text,
)

#: Preview inputs are named ``a.<id>`` at the top and ``a.<group>.<index>.<id>`` inside a group's items.
PREFIX: Final = "a."
_INDEX: Final = re.compile(r"^(0|[1-9][0-9]{0,3})$")


class AnswerRow(msgspec.Struct, frozen=True, kw_only=True):
    """One answer for the clerk: its label, the field type's own rendering, and the table of a group."""

    pointer: str
    label: Text
    display: str
    binds: str | None = None
    columns: list[Text] | None = None
    rows: list[list[str]] | None = None


def answer_rows(schema: FormSchema, answers: list[Answer]) -> list[AnswerRow]:
    """The labelled answers of ``forms.answers.render`` (each already shown by its field type), a group as a table."""
    specs = {spec.id: spec for spec in schema.fields()}
    rows = []
    for answer in answers:
        spec = specs[answer.pointer.rsplit("/", 1)[1]]
        if isinstance(spec, GroupField):
            subs = spec.fields
            table = []
            for item in answer.items or []:
                shown = {a.pointer.rsplit("/", 1)[1]: a.display for a in item}
                table.append([shown.get(sub.id, "") for sub in subs])
            rows.append(
                AnswerRow(
                    pointer=answer.pointer, label=answer.label, display=answer.display,
                    columns=[sub.label for sub in subs], rows=table,
                )
            )  # fmt: skip
        else:
            rows.append(AnswerRow(pointer=answer.pointer, label=answer.label, display=answer.display, binds=spec.binds))
    return rows


class ChangeRow(msgspec.Struct, frozen=True, kw_only=True):
    pointer: str
    label: Text
    before: str
    after: str


def change_rows(schema: FormSchema, changes: list[AnswerChange], registry: ComponentRegistry) -> list[ChangeRow]:
    """An amendment's changes, each side shown as its field type shows it (``forms.answers.change_display``)."""
    rows = []
    for change in changes:
        before, after = change_display(schema, change, registry)
        rows.append(ChangeRow(pointer=change.pointer, label=change.label, before=before, after=after))
    return rows


def field_kind(spec: FieldSpec) -> str:
    """The field's type tag (``text``, ``group``...), which picks its control in the preview."""
    return str(type(spec).__struct_config__.tag)


def condition_json(spec: FieldSpec) -> str | None:
    """The ``visible_if`` as JSON for the preview's script (data, never code)."""
    return msgspec.json.encode(spec.visible_if).decode() if spec.visible_if is not None else None


async def _value(spec: FieldSpec, raw: list[Any]) -> Any:
    """A posted control's value as the applicant's client would put it in the document; None: unanswered."""
    if isinstance(spec, AttachmentField):
        upload = next((r for r in raw if isinstance(r, UploadFile) and r.filename), None)
        if upload is None:
            return None
        content = await upload.read()
        return {
            "filename": upload.filename,
            "media_type": upload.content_type or "application/octet-stream",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    texts = [r for r in raw if isinstance(r, str)]
    if isinstance(spec, MultiChoiceField):
        return [t for t in texts if t] or None
    text = texts[0] if texts else ""
    if text == "":
        return None
    if isinstance(spec, BooleanField):
        return {"true": True, "false": False}.get(text, text)
    for kind, convert in ((IntegerField, int), (DecimalField, float)):
        if isinstance(spec, kind):
            try:
                return convert(text)
            except ValueError:
                return text  # left as typed: the validator names the field and says what is wrong
    return text


async def read_answers(schema: FormSchema, posted: dict[str, list[Any]]) -> dict[str, Any]:
    """The answers object from the preview's controls, in the form's order."""
    answers: dict[str, Any] = {}
    for spec in schema.fields():
        if isinstance(spec, GroupField):
            prefix = f"{PREFIX}{spec.id}."
            heads = {name[len(prefix) :].split(".")[0] for name in posted if name.startswith(prefix)}
            indexes = sorted(int(i) for i in heads if _INDEX.match(i))
            items = []
            for index in indexes:
                item = {}
                for sub in spec.fields:
                    value = await _value(sub, posted.get(f"{prefix}{index}.{sub.id}", []))
                    if value is not None:
                        item[sub.id] = value
                items.append(item)
            if items:
                answers[spec.id] = items
            continue
        value = await _value(spec, posted.get(PREFIX + spec.id, []))
        if value is not None:
            answers[spec.id] = value
    return answers


def _prune_scope(scope: CompiledScope, local: dict[str, Any], top: dict[str, Any], hidden: set[str], base: str) -> None:
    for f in scope.fields:
        pointer = f"{base}/{f.spec.id}"
        if f.visible is not None and not f.visible(local, top):
            hidden.add(pointer)
            local.pop(f.spec.id, None)
        elif f.group is not None and isinstance(local.get(f.spec.id), list):
            for index, item in enumerate(local[f.spec.id]):
                if isinstance(item, dict):
                    _prune_scope(f.group, item, top, hidden, f"{pointer}/{index}")


def prune_hidden(form: CompiledForm, answers: dict[str, Any]) -> set[str]:
    """Drop the answers of fields hidden by the other answers (as the applicant's screen does); their pointers.

    Visibility is the compiled form's own evaluation of ``visible_if``, the one the validator uses.
    """
    hidden: set[str] = set()
    _prune_scope(form.answers, answers, answers, hidden, "/answers")
    return hidden


def group_items(answers: dict[str, Any], spec: GroupField) -> list[dict[str, Any]]:
    value = answers.get(spec.id)
    items: list[dict[str, Any]] = [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []
    return items or [{}]
