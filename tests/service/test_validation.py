"""The collecting walker finds every problem msgspec would, not only the first."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import pytest

from forms.errors import FieldError, escape, from_msgspec
from service.validation import collect_problems


class Item(msgspec.Struct, forbid_unknown_fields=True):
    qty: Annotated[int, msgspec.Meta(ge=1, le=10)]


class Order(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
    items: Annotated[list[Item], msgspec.Meta(max_length=3)]
    note: str | None = None
    parent: Item | None = None


def pointers(value: Any) -> list[tuple[str | None, str]]:
    return [(p.pointer, p.code) for p in collect_problems(value, Order)]


def test_valid_document_has_no_problems() -> None:
    assert collect_problems({"code": "ABC", "items": [{"qty": 1}]}, Order) == []


def test_every_problem_is_reported_with_its_pointer() -> None:
    value = {"code": "abc", "items": [{"qty": 0}, {"qty": 11}, {"qty": "x", "extra": 1}], "oops/~": 1}
    assert pointers(value) == [
        ("/oops~1~0", "unknown_field"),
        ("/code", "pattern"),
        ("/items/0/qty", "min"),
        ("/items/1/qty", "max"),
        ("/items/2/extra", "unknown_field"),
        ("/items/2/qty", "type"),
    ]


def test_list_constraints_and_optional_structs() -> None:
    value = {"code": "ABC", "items": [{"qty": 1}] * 4, "parent": {"qty": 99}}
    assert pointers(value) == [("/items", "max_items"), ("/parent/qty", "max")]
    assert pointers({"code": "ABC", "items": [{"qty": 1}] * 4}) == [("/items", "max_items")]


def test_wrong_top_level_type() -> None:
    assert pointers([]) == [("", "type")]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Expected `int`, got `str` - at `$.a[2].b`",
            FieldError(pointer="/a/2/b", code="type", detail="Expected `int`, got `str`"),
        ),
        (
            "Object missing required field `x` - at `$.a`",
            FieldError(pointer="/a/x", code="required", detail="Object missing required field `x`"),
        ),
        (
            "Expected `str` of length <= 3",
            FieldError(pointer="", code="max_length", detail="Expected `str` of length <= 3"),
        ),
    ],
)
def test_msgspec_messages_become_pointers(message: str, expected: FieldError) -> None:
    assert from_msgspec(msgspec.ValidationError(message)) == expected


def test_rfc6901_escaping() -> None:
    assert escape("a/b~c") == "a~1b~0c"
