"""The ``my_number`` field type: the 施行令第8条 check digit, no separators, masked in every rendering."""

from __future__ import annotations

import msgspec
import pytest

from forms import CompiledForm, json_schema, parse_schema
from forms.answers import diff, render
from forms.components.my_number import answered, check_digit, locations, mask, masked_answers
from tests.forms.helpers import REGISTRY, compile_fields, errors, field, schema_data

#: Valid numbers worked out by hand from 施行令第8条 (see test_check_digit_by_hand) and the example
#: 123456789018 that guides to the My Number check digit commonly use.
VALID = ["123456789018", "111111111118", "000000000000", "987654321000"]


def test_check_digit_by_hand() -> None:
    # 12345678901 from the right: P = 1,0,9,8,7,6,5,4,3,2,1 with Q = 2,3,4,5,6,7,2,3,4,5,6:
    # 2+0+36+40+42+42+10+12+12+10+6 = 212; 212 mod 11 = 3; 11 - 3 = 8.
    assert check_digit("12345678901") == 8
    # 11111111111: sum of Q = 47; 47 mod 11 = 3; 11 - 3 = 8.
    assert check_digit("11111111111") == 8
    # 98765432100: P = 0,0,1,2,3,4,5,6,7,8,9: 0+0+4+10+18+28+10+18+28+40+54 = 210; 210 mod 11 = 1 -> 0.
    assert check_digit("98765432100") == 0
    # remainder 0 -> 0 as well
    assert check_digit("00000000000") == 0


def test_every_remainder_gives_one_digit() -> None:
    # Remainders 2..10 give 9..1, and 0 and 1 give 0: a single decimal digit every time.
    seen = {check_digit(f"{n:011d}") for n in range(0, 2000)}
    assert seen == set(range(10))


def test_accepted_and_refused_with_pointer() -> None:
    form = compile_fields(field("v", "my_number", required=True))
    for value in VALID:
        assert errors(form, {"v": value}) == [], value
    assert errors(form, {"v": "123456789019"}) == [("/answers/v", "check_digit")]
    # Separators are refused, not normalised: the signed value is the one stored and compared.
    refused = ["1234-5678-9018", "1234 5678 9018", "１２３４５６７８９０１８", "12345678901", "1234567890180"]
    refused += [123456789018]  # type: ignore[list-item]
    for value in refused:
        found = errors(form, {"v": value})
        assert [p for p, _ in found] == ["/answers/v"], value
        assert found[0][1] in ("pattern", "type"), (value, found)


def test_refusal_names_the_rule_not_the_regex() -> None:
    form = compile_fields(field("v", "my_number"))
    raw = msgspec.json.encode({"form_id": "test-form", "form_version": 1, "answers": {"v": "1234-5678-9018"}})
    [error] = form.validate(raw)
    assert error.detail == "must be the 12 digits of an individual number (個人番号), without hyphens or spaces"


def test_check_digit_inside_a_group_points_at_the_item() -> None:
    form = compile_fields(field("family", "group", fields=[field("number", "my_number")]))
    assert errors(form, {"family": [{"number": "123456789018"}, {"number": "123456789010"}]}) == [
        ("/answers/family/1/number", "check_digit")
    ]


def test_display_masks() -> None:
    spec = compile_fields(field("v", "my_number")).schema.fields()[0]
    assert REGISTRY.for_spec(spec).display(spec, "123456789018") == "**** **** 9018"
    assert mask("123456789018") == "**** **** 9018"
    assert mask("bad") == "**** **** ****"
    assert mask(mask("123456789018")) == "**** **** 9018"  # the console masks what the API already masked


SCHEMA = parse_schema(
    schema_data(
        field("name", "text"),
        field("number", "my_number"),
        field("family", "group", fields=[field("relation", "text"), field("number", "my_number")]),
    ),
    REGISTRY,
)
ANSWERS = {
    "name": "山田",
    "number": "123456789018",
    "family": [{"relation": "子", "number": "111111111118"}],
}


def test_render_masks_value_and_display_everywhere() -> None:
    rendered = msgspec.json.encode(render(SCHEMA, ANSWERS, REGISTRY))
    assert b"123456789018" not in rendered and b"111111111118" not in rendered
    as_data = msgspec.json.decode(rendered)
    assert as_data[1] == {
        "pointer": "/answers/number",
        "label": {"ja": "number"},
        "type": "my_number",
        "value": "**** **** 9018",
        "display": "**** **** 9018",
    }
    assert as_data[2]["value"] == [{"relation": "子", "number": "**** **** 1118"}]


def test_diff_masks() -> None:
    after = ANSWERS | {"number": "987654321000", "family": [*ANSWERS["family"], {"number": "000000000000"}]}
    changes = msgspec.json.encode(diff(SCHEMA, ANSWERS, after))
    for number in ("123456789018", "987654321000", "111111111118", "000000000000"):
        assert number.encode() not in changes
    assert msgspec.json.decode(changes)[0] == {
        "pointer": "/answers/number",
        "label": {"ja": "number"},
        "before": "**** **** 9018",
        "after": "**** **** 1000",
    }
    added = diff(SCHEMA, {"name": "x"}, ANSWERS)
    assert b"111111111118" not in msgspec.json.encode(added)


def test_locations_and_answered() -> None:
    assert [(w.schema_pointer, w.group_id, w.field_id) for w in locations(SCHEMA)] == [
        ("/sections/0/fields/1", None, "number"),
        ("/sections/0/fields/2/fields/1", "family", "number"),
    ]
    assert list(answered(SCHEMA, ANSWERS)) == [
        ("/answers/number", "123456789018"),
        ("/answers/family/0/number", "111111111118"),
    ]


def test_json_schema_export() -> None:
    form = CompiledForm(SCHEMA, 1, REGISTRY)
    exported = json_schema(form)
    assert exported["properties"]["answers"]["properties"]["number"] == {
        "title": "number",
        "type": "string",
        "pattern": "^(?:[0-9]{12})$(?!\\n)",
        "writeOnly": True,
    }
    assert exported["x-shinsei-not-expressed"] == [
        "/answers/number (check digit)",
        "/answers/family/*/number (check digit)",
    ]


@pytest.mark.parametrize("value", VALID)
def test_fast_and_slow_paths_agree(value: str) -> None:
    form = compile_fields(field("v", "my_number"))
    bad = value[:-1] + str((int(value[-1]) + 1) % 10)
    assert errors(form, {"v": bad}) == [("/answers/v", "check_digit")]


def test_masked_answers_keep_everything_else() -> None:
    masked = masked_answers(SCHEMA, ANSWERS)
    assert masked == {
        "name": "山田",
        "number": "**** **** 9018",
        "family": [{"relation": "子", "number": "**** **** 1118"}],
    }
    assert ANSWERS["number"] == "123456789018"  # a copy: the document's answers are not changed
