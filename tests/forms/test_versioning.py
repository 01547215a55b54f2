"""Canonical bytes do not depend on how the schema was written; diffs name what changed."""

from __future__ import annotations

import json

import msgspec

from forms import canonical_bytes, decode_document, diff, fingerprint, parse_schema
from tests.forms.helpers import REGISTRY, field, schema_data


def test_same_schema_same_hash_whatever_the_spelling() -> None:
    data = schema_data(field("a", "text", max_length=5), field("b", "boolean"))
    as_json = json.dumps(data, ensure_ascii=False, indent=2).encode()
    reordered = json.dumps(dict(reversed(list(data.items()))), ensure_ascii=False).encode()
    with_defaults = json.loads(as_json)
    with_defaults["sections"][0]["fields"][1]["required"] = False  # the default, spelled out
    schemas = [
        parse_schema(decode_document(as_json, "json"), REGISTRY),
        parse_schema(decode_document(reordered, "json"), REGISTRY),
        parse_schema(with_defaults, REGISTRY),
        parse_schema(decode_document(as_json, "yaml"), REGISTRY),  # JSON is YAML
    ]
    assert len({canonical_bytes(s) for s in schemas}) == 1
    assert len({fingerprint(s) for s in schemas}) == 1
    canonical = canonical_bytes(schemas[0])
    assert b" " not in canonical.replace("試験".encode(), b"")
    assert msgspec.json.decode(canonical)["sections"][0]["fields"][1] == {
        "id": "b",
        "label": {"ja": "b"},
        "type": "boolean",
    }


def test_diff_names_added_removed_and_changed_fields() -> None:
    before = parse_schema(
        schema_data(field("a", "text", max_length=5), field("g", "group", fields=[field("x", "text")])), REGISTRY
    )
    after = parse_schema(
        schema_data(
            field("a", "text", max_length=10, required=True),
            field("g", "group", fields=[field("x", "text"), field("y", "integer")]),
            field("c", "boolean"),
            title={"ja": "新しい題"},
        ),
        REGISTRY,
    )
    result = diff(before, after)
    assert result.added == ["g/y", "c"]
    assert result.removed == []
    assert [(c.field, c.changes) for c in result.changed] == [("a", {"max_length": [5, 10], "required": [None, True]})]
    assert result.form_changes == {"title": [{"ja": "試験"}, {"ja": "新しい題"}]}
    assert diff(after, before).removed == ["g/y", "c"]
