"""The server and its exported JSON Schema accept and reject the same documents.

The form below uses every construct JSON Schema can express (the check digit and date bounds are
left out: the export lists them as not expressed). Hypothesis builds documents that are valid, invalid
in one place, or invalid everywhere; ``jsonschema`` (with format checking) must agree with the server
on each, and the server's fast path must agree with its own collecting walker.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import msgspec
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from forms import CompiledForm, json_schema, parse_schema
from tests.forms.helpers import REGISTRY, field, schema_data

OPTIONS = [{"value": v, "label": {"ja": v}} for v in ("a", "b", "c")]
FIELDS = [
    field("title", "text", required=True, min_length=1, max_length=6),
    field("code", "text", pattern="^[A-Z]{2}[0-9]$"),
    field("story", "text", multiline=True, max_length=8),
    field("count", "integer", min=0, max=10),
    field("ratio", "decimal", min=-1.5, max=2.5),
    field("agree", "boolean", required=True),
    field("day", "date"),
    field("kind", "choice", options=OPTIONS, required=True),
    field("tags", "multi_choice", options=OPTIONS, min_items=1, max_items=2),
    field("mail", "email"),
    field("tel", "phone"),
    field("zip", "postal_code"),
    field("pref", "prefecture"),
    field("kana", "kana", max_length=8),
    field("file", "attachment", media_types=["application/pdf", "image/png"], max_bytes=1000),
    field("why", "text", required=True, visible_if={"field": "kind", "equals": "b"}),
    field(
        "extra", "integer", required_if={"any": [{"field": "agree", "equals": True}, {"field": "tags", "equals": "c"}]}
    ),
    field("hidden", "boolean", visible_if={"not": {"field": "kind", "in": ["a", "c"]}}),
    field(
        "only_with_code",
        "text",
        visible_if={"all": [{"field": "code", "present": True}, {"field": "count", "not_equals": 3}]},
    ),
    field(
        "items",
        "group",
        min_items=1,
        max_items=3,
        fields=[
            field("name", "text", required=True, max_length=4),
            field("pet", "boolean"),
            field("pet_name", "text", required=True, visible_if={"field": "pet", "equals": True}),
            field("reason", "text", visible_if={"field": "kind", "equals": "c"}),  # reads a top-level field
        ],
    ),
]
SCHEMA = parse_schema(schema_data(*FIELDS), REGISTRY)
FORM = CompiledForm(SCHEMA, 1, REGISTRY)
EXPORTED = json_schema(FORM)
VALIDATOR = jsonschema.Draft202012Validator(EXPORTED, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=8)
junk = st.one_of(st.integers(-3, 3), text, st.booleans(), st.just([]), st.just({}))
fractional = st.floats(-20, 20, allow_nan=False).filter(lambda x: x != int(x))
values: dict[str, st.SearchStrategy[Any]] = {
    "title": st.one_of(text, st.just(""), st.just("a\nb"), junk),
    "code": st.one_of(st.sampled_from(["AB1", "ZZ9", "ab1", "AB12", "AB1\n"]), junk),
    "story": st.one_of(st.sampled_from(["one\ntwo", "x\r\n", "123456789"]), text, junk),
    "count": st.one_of(st.integers(-2, 12), fractional, junk),
    "ratio": st.one_of(st.floats(-3, 3, allow_nan=False), st.integers(-3, 3), junk),
    "agree": st.one_of(st.booleans(), junk),
    "day": st.one_of(st.sampled_from(["2024-02-29", "2023-02-29", "2024-13-01", "2024-1-01", "2026-11-27"]), junk),
    "kind": st.one_of(st.sampled_from(["a", "b", "c", "d", ""]), junk),
    "tags": st.one_of(st.lists(st.sampled_from(["a", "b", "c", "x"]), max_size=3), junk),
    "mail": st.one_of(st.sampled_from(["a@b.jp", "a@b", "a b@c.jp", "x.y+z@mail.example.com"]), junk),
    "tel": st.one_of(
        st.sampled_from(["03-1234-5678", "09012345678", "0312-34", "123-4567-8901", "0120-123-456"]), junk
    ),
    "zip": st.one_of(st.sampled_from(["100-0001", "1000001", "100-001", "１００-０００１"]), junk),
    "pref": st.one_of(st.sampled_from(["01", "47", "48", "東京都", "東京"]), junk),
    "kana": st.one_of(st.sampled_from(["ヤマダ", "ヤマダ タロウ", "やまだ", "ヤマダタロウイチ", ""]), junk),
    "file": st.one_of(
        st.fixed_dictionaries(
            {
                "filename": st.sampled_from(["a.pdf", "../a", ""]),
                "media_type": st.sampled_from(["application/pdf", "image/png", "text/plain"]),
                "size": st.sampled_from([0, 1000, 1001, -1]),
                "sha256": st.sampled_from(["0" * 64, "F" * 64, "0" * 63]),
            }
        ),
        junk,
    ),
    "why": st.one_of(text, junk),
    "extra": st.one_of(st.integers(-1, 2), junk),
    "hidden": st.one_of(st.booleans(), junk),
    "only_with_code": st.one_of(text, junk),
}
line = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\n\r"), min_size=1, max_size=4)
valid: dict[str, st.SearchStrategy[Any]] = {
    "title": line,
    "code": st.sampled_from(["AB1", "ZZ9"]),
    "story": text,
    "count": st.integers(0, 10),
    "ratio": st.floats(-1.5, 2.5, allow_nan=False),
    "agree": st.booleans(),
    "day": st.dates().map(lambda d: d.isoformat()),
    "kind": st.sampled_from(["a", "b", "c"]),
    "tags": st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2, unique=True),
    "mail": st.sampled_from(["a@b.jp", "x.y+z@mail.example.com"]),
    "tel": st.sampled_from(["03-1234-5678", "09012345678", "0120-123-456"]),
    "zip": st.sampled_from(["100-0001", "1000001"]),
    "pref": st.sampled_from(["01", "47", "東京都"]),
    "kana": st.sampled_from(["ヤマダ", "ヤマダ タロウ"]),
    "file": st.just({"filename": "a.pdf", "media_type": "application/pdf", "size": 10, "sha256": "0" * 64}),
    "why": line,
    "extra": st.integers(0, 5),
    "hidden": st.booleans(),
    "only_with_code": line,
}


@st.composite
def valid_answers(draw: st.DrawFn) -> dict[str, Any]:
    """A document that satisfies every rule, conditions included."""
    result = {name: draw(valid[name]) for name in ("title", "agree", "kind")}
    for name in ("code", "story", "count", "ratio", "day", "tags", "mail", "tel", "zip", "pref", "kana", "file"):
        if draw(st.booleans()):
            result[name] = draw(valid[name])
    if result["kind"] == "b":
        result["why"] = draw(valid["why"])
        if draw(st.booleans()):
            result["hidden"] = draw(valid["hidden"])
    if result["agree"] or "c" in result.get("tags", []):
        result["extra"] = draw(valid["extra"])
    if "code" in result and result.get("count") != 3 and draw(st.booleans()):
        result["only_with_code"] = draw(valid["only_with_code"])
    if draw(st.booleans()):
        items = []
        for _ in range(draw(st.integers(1, 3))):
            entry: dict[str, Any] = {"name": draw(line)}
            if draw(st.booleans()):
                entry["pet"] = draw(st.booleans())
                if entry["pet"]:
                    entry["pet_name"] = draw(line)
            if result["kind"] == "c" and draw(st.booleans()):
                entry["reason"] = draw(line)
            items.append(entry)
        result["items"] = items
    return result


@st.composite
def answers(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document with zero, one or a few mutations: a field dropped, replaced or added."""
    result = draw(valid_answers())
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 4]))):
        mutation = draw(st.sampled_from(["drop", "replace", "add", "item"]))
        name = draw(st.sampled_from([*values, "items"]))
        if mutation == "drop":
            result.pop(name, None)
        elif mutation == "replace" and name in values:
            result[name] = draw(values[name])
        elif mutation == "add":
            result[name] = draw(valid[name]) if name in valid else draw(junk)
        elif mutation == "item" and isinstance(result.get("items"), list) and result["items"]:
            entry = draw(st.sampled_from(result["items"]))
            key = draw(st.sampled_from(["name", "pet", "pet_name", "reason", "zz"]))
            entry[key] = draw(st.one_of(line, st.booleans(), junk))
        else:
            result["unknown"] = draw(junk)
    return result


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers=answers(), nonce=st.sampled_from([None, "n" * 20, "bad nonce"]))
def test_server_and_json_schema_agree(answers: dict[str, Any], nonce: str | None) -> None:
    document: dict[str, Any] = {"form_id": "test-form", "form_version": 1, "answers": answers}
    if nonce is not None:
        document["nonce"] = nonce
    raw = msgspec.json.encode(document)
    server_errors = FORM.validate(raw)
    walker_errors = FORM.collect(msgspec.json.decode(raw))
    assert (server_errors == []) == (walker_errors == []), (server_errors, walker_errors)
    assert VALIDATOR.is_valid(msgspec.json.decode(raw)) == (server_errors == []), server_errors


def test_the_form_exercises_both_outcomes() -> None:
    valid = {
        "title": "t",
        "agree": False,
        "kind": "b",
        "why": "because",
        "items": [{"name": "a", "pet": True, "pet_name": "ポチ"}],
    }
    raw = msgspec.json.encode({"form_id": "test-form", "form_version": 1, "answers": valid})
    assert FORM.validate(raw) == []
    assert VALIDATOR.is_valid(msgspec.json.decode(raw))
    assert EXPORTED["x-shinsei-not-expressed"] == []
    # The generator reaches both outcomes (it once produced only invalid documents).
    encode = msgspec.json.encode
    envelope = {"form_id": "test-form", "form_version": 1}
    find(answers(), lambda a: FORM.validate(encode(envelope | {"answers": a})) == [], settings=settings(database=None))
    find(answers(), lambda a: FORM.validate(encode(envelope | {"answers": a})) != [], settings=settings(database=None))


def test_export_lists_what_it_cannot_say() -> None:
    form = CompiledForm(
        parse_schema(
            schema_data(
                field("cn", "corporate_number"),
                field("d", "date", min="2020-01-01"),
                field(
                    "g",
                    "group",
                    fields=[
                        field(
                            "x",
                            "text",
                            visible_if={"all": [{"field": "y", "present": True}, {"field": "cn", "present": True}]},
                        ),
                        field("y", "text"),
                    ],
                ),
            ),
            REGISTRY,
        ),
        1,
        REGISTRY,
    )
    assert json_schema(form)["x-shinsei-not-expressed"] == [
        "/answers/cn (check digit)",
        "/answers/d (date bounds)",
        "/answers/g/*/x (condition mixing item and top-level fields)",
    ]
