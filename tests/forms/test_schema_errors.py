"""A malformed schema is refused with every problem, each pointing into the schema."""

from __future__ import annotations

from typing import Any

import pytest

from forms import SchemaInvalid, decode_document, parse_schema
from tests.forms.helpers import REGISTRY, field, schema_data


def problems(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(SchemaInvalid) as caught:
        parse_schema(data, REGISTRY)
    return [(e.pointer, e.code) for e in caught.value.errors]


def test_structure_errors_are_all_listed() -> None:
    data = schema_data(
        field("a", "telepathy"),
        {"id": "B", "type": "text", "label": {"en": "no japanese"}},
        field("c", "integer", min="one"),
        id="Bad Id",
    )
    del data["title"]
    assert problems(data) == [
        ("/id", "pattern"),
        ("/title", "required"),
        ("/sections/0/fields/0/type", "unknown_type"),
        ("/sections/0/fields/1/id", "pattern"),
        ("/sections/0/fields/1/label/ja", "required"),
        ("/sections/0/fields/2/min", "type"),
    ]


def test_semantic_errors_are_all_listed() -> None:
    data = schema_data(
        field("a", "text", min_length=5, max_length=2, pattern="([unclosed"),
        field("a", "integer", min=10, max=1),
        field("d", "date", min_field="a", max_field="nowhere"),
        field("e", "text", visible_if={"field": "ghost", "equals": "x"}),
        field("f", "text", required_if={"field": "f", "present": True}),
        field("g", "text", visible_if={"field": "a", "equals": "x", "present": True}),
        field("h", "choice", options=[{"value": "x", "label": {"ja": "x"}}, {"value": "x", "label": {"ja": "y"}}]),
        field("i", "group", min_items=3, max_items=1, fields=[field("j", "group", fields=[field("k", "text")])]),
    )
    assert problems(data) == [
        ("/sections/0/fields/1/id", "duplicate"),
        ("/sections/0/fields/0/min_length", "min_max"),
        ("/sections/0/fields/0/pattern", "pattern"),
        ("/sections/0/fields/1/min", "min_max"),
        ("/sections/0/fields/2/min_field", "not_date"),
        ("/sections/0/fields/2/max_field", "unknown_field"),
        ("/sections/0/fields/3/visible_if/field", "unknown_field"),
        ("/sections/0/fields/4/required_if/field", "condition_self"),
        ("/sections/0/fields/5/visible_if", "condition"),
        ("/sections/0/fields/6/options/1/value", "duplicate"),
        ("/sections/0/fields/7/min_items", "min_max"),
        ("/sections/0/fields/7/fields/0/type", "nesting"),
    ]


def test_condition_in_a_group_may_not_name_another_groups_field() -> None:
    data = schema_data(
        field("g1", "group", fields=[field("x", "text")]),
        field("g2", "group", fields=[field("y", "text", visible_if={"field": "x", "present": True})]),
    )
    assert problems(data) == [("/sections/0/fields/1/fields/0/visible_if/field", "unknown_field")]


def test_yaml_aliases_are_refused() -> None:
    raw = b"id: a\nprocedure: b\ntitle: &t {ja: x}\ndescription: *t\nsections: []\n"
    with pytest.raises(SchemaInvalid) as caught:
        decode_document(raw, "yaml")
    assert [(e.pointer, e.code) for e in caught.value.errors] == [("", "yaml_alias")]


def test_malformed_bytes() -> None:
    with pytest.raises(SchemaInvalid) as caught:
        decode_document(b"{", "json")
    assert caught.value.errors[0].code == "malformed"


def test_conditions_on_dates_need_dates() -> None:
    data = schema_data(
        field("d", "date"), field("x", "text", visible_if={"any": [{"field": "d", "equals": "tomorrow"}]})
    )
    assert problems(data) == [("/sections/0/fields/1/visible_if/any/0", "condition")]
