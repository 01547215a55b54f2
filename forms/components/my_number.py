"""``my_number``: the 12-digit 個人番号, whose last digit is a check digit; shown masked.

Exactly twelve ASCII digits: hyphens, spaces and full-width digits are refused, not normalised. The
signed document is evidence, so the value it carries is the one that is encrypted, compared, masked
and purged; one spelling keeps all of those simple, and a client strips separators before signing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Final

import msgspec

from forms.components.base import Component, Lookup, anchored
from forms.errors import FieldError, escape
from forms.schema import FormSchema, GroupField, MyNumberField

PATTERN: Final = anchored("[0-9]{12}")
#: What every view shows unless the full number was asked for (and allowed).
MASK: Final = "**** **** "


def check_digit(base: str) -> int:
    """The check digit of the first 11 digits.

    As 行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条 defines it:
    11 - (sum of P_n * Q_n mod 11), or 0 when that remainder is 0 or 1; P_n is the n-th digit
    counted from the right of the 11, Q_n = n + 1 for n = 1..6 and n - 5 for n = 7..11.
    """
    total = sum(int(digit) * (n + 1 if n <= 6 else n - 5) for n, digit in enumerate(reversed(base), start=1))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid(value: str) -> bool:
    return ord(value[-1]) - 48 == check_digit(value[:-1])


def mask(value: Any) -> str:
    """``**** **** 1234``: the last four digits only (what a clerk without the permission sees).

    Masking a masked value leaves it as it is, so a view may mask what it was given without asking.
    """
    if isinstance(value, str) and value.startswith(MASK) and len(value) == len(MASK) + 4:
        return value
    return MASK + (value[-4:] if isinstance(value, str) and len(value) == 12 else "****")


class MyNumberLocation(msgspec.Struct, frozen=True, kw_only=True):
    """Where a form carries a 個人番号: the field in the schema, and its answers in a document."""

    schema_pointer: str
    """Into the schema document: ``/sections/0/fields/3`` (the field's definition)."""
    field_id: str
    group_id: str | None = None
    """Set when the field is inside a group: the answers are then ``/answers/<group>/<i>/<field>``."""


def locations(schema: FormSchema) -> list[MyNumberLocation]:
    """Every ``my_number`` field of a schema, top level or inside a group, in document order."""
    found = []
    for i, section in enumerate(schema.sections):
        for j, spec in enumerate(section.fields):
            here = f"/sections/{i}/fields/{j}"
            if isinstance(spec, MyNumberField):
                found.append(MyNumberLocation(schema_pointer=here, field_id=spec.id))
            elif isinstance(spec, GroupField):
                found += [
                    MyNumberLocation(schema_pointer=f"{here}/fields/{k}", field_id=sub.id, group_id=spec.id)
                    for k, sub in enumerate(spec.fields)
                    if isinstance(sub, MyNumberField)
                ]
    return found


def answered(schema: FormSchema, answers: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(pointer, value) of every 個人番号 answered in a document's ``answers`` (strings only)."""
    for where in locations(schema):
        if where.group_id is None:
            if isinstance(value := answers.get(where.field_id), str):
                yield f"/answers/{escape(where.field_id)}", value
            continue
        items = answers.get(where.group_id)
        for index, item in enumerate(items if isinstance(items, list) else ()):
            if isinstance(item, dict) and isinstance(value := item.get(where.field_id), str):
                yield f"/answers/{escape(where.group_id)}/{index}/{escape(where.field_id)}", value


def masked_answers(schema: FormSchema, answers: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``answers`` with every 個人番号 masked: what may be stored and shown without the key."""
    masked = dict(answers)
    for where in locations(schema):
        if where.group_id is None:
            if where.field_id in masked:
                masked[where.field_id] = mask(masked[where.field_id])
            continue
        items = masked.get(where.group_id)
        if isinstance(items, list):
            masked[where.group_id] = [
                {**item, where.field_id: mask(item[where.field_id])}
                if isinstance(item, dict) and where.field_id in item
                else item
                for item in items
            ]
    return masked


class MyNumber(Component[MyNumberField]):
    spec_type = MyNumberField
    pattern_hint = "must be the 12 digits of an individual number (個人番号), without hyphens or spaces"

    def annotation(self, spec: MyNumberField) -> Any:
        return Annotated[str, msgspec.Meta(pattern=PATTERN)]

    def json_schema(self, spec: MyNumberField) -> dict[str, Any]:
        # The check digit is arithmetic; JSON Schema carries the shape. ``writeOnly``: the server
        # never gives the full value back unless it is asked for with the permission.
        return {"type": "string", "pattern": PATTERN, "writeOnly": True}

    def has_rules(self, spec: MyNumberField) -> bool:
        return True

    def rules(self, spec: MyNumberField, value: Any, pointer: str, lookup: Lookup) -> list[FieldError]:
        if not is_valid(value):
            return [FieldError(pointer=pointer, code="check_digit", detail="the check digit does not match")]
        return []

    def display(self, spec: MyNumberField, value: Any) -> str:
        return mask(value)
