"""Every field type, accepted and rejected, with exact pointers and codes."""

from __future__ import annotations

from typing import Any

import pytest

from forms.components.corporate_number import check_digit
from tests.forms.helpers import compile_fields, errors, field

PDF = {"filename": "a.pdf", "media_type": "application/pdf", "size": 10, "sha256": "0" * 64}

CASES: list[tuple[dict[str, Any], list[Any], list[tuple[Any, str]]]] = [
    (
        field("v", "text", min_length=2, max_length=5, pattern="^[a-z]+$"),
        ["ab", "abcde"],
        [("a", "min_length"), ("abcdef", "max_length"), ("AB", "pattern"), (3, "type"), ("ab\ncd", "pattern")],
    ),
    (field("v", "text", multiline=True), ["line 1\nline 2", ""], [(["x"], "type")]),
    (
        field("v", "integer", min=1, max=10),
        [1, 10],
        [(0, "min"), (11, "max"), (1.5, "type"), ("3", "type"), (True, "type")],
    ),
    (field("v", "decimal", min=0.5, max=2), [0.5, 2, 1.25], [(0.4, "min"), (2.01, "max"), ("1", "type")]),
    (field("v", "boolean"), [True, False], [(1, "type"), ("true", "type")]),
    (
        field("v", "date", min="2020-01-01", max="2030-12-31"),
        ["2020-01-01", "2024-02-29"],
        [
            ("2019-12-31", "min"),
            ("2031-01-01", "max"),
            ("2023-02-29", "format"),
            ("2024/01/01", "format"),
            ("2024-1-1", "format"),
        ],
    ),
    (
        field("v", "choice", options=[{"value": "a", "label": {"ja": "あ"}}, {"value": "b", "label": {"ja": "い"}}]),
        ["a", "b"],
        [("c", "choice"), ("", "choice"), (["a"], "type")],
    ),
    (
        field(
            "v",
            "multi_choice",
            min_items=1,
            max_items=2,
            options=[{"value": x, "label": {"ja": x}} for x in ("a", "b", "c")],
        ),
        [["a"], ["a", "c"]],
        [
            ([], "min_items"),
            (["a", "b", "c"], "max_items"),
            (["a", "a"], "duplicate"),
            (["z"], "choice"),
            ("a", "type"),
        ],
    ),
    (
        field("v", "email"),
        ["taro@example.jp", "a.b+c@mail.city.toda.saitama.jp"],
        [("taro@", "pattern"), ("taro@localhost", "pattern"), ("a b@example.jp", "pattern")],
    ),
    (
        field("v", "phone"),
        ["03-1234-5678", "0312345678", "090-1234-5678", "09012345678", "0120-123-456", "048-441-1800"],
        [
            ("123-4567", "pattern"),
            ("03-1234-56789", "pattern"),
            ("+81312345678", "pattern"),
            ("０３１２３４５６７８", "pattern"),
        ],
    ),
    (
        field("v", "postal_code"),
        ["100-0001", "1000001"],
        [("100-001", "pattern"), ("10000011", "pattern"), ("１００-０００１", "pattern"), ("100-0001\n", "pattern")],
    ),
    (
        field("v", "prefecture"),
        ["13", "東京都", "01", "47", "沖縄県"],
        [("48", "choice"), ("00", "choice"), ("東京", "choice")],
    ),
    (
        field("v", "corporate_number"),
        ["7000012050002", "4000012090001"],
        [("1000012050002", "check_digit"), ("700001205000", "pattern"), ("0000012050002", "pattern")],
    ),
    (
        field("v", "kana", max_length=10),
        ["ヤマダ タロウ", "ヤマダ\u3000タロウ", "ヴィクトリー"],
        [("やまだ", "pattern"), ("ﾔﾏﾀﾞ", "pattern"), ("ヤマダ1", "pattern"), ("アイウエオカキクケコサ", "max_length")],
    ),
    (
        field("v", "attachment", media_types=["application/pdf"], max_bytes=100),
        [PDF],
        [
            (PDF | {"media_type": "image/png"}, "media_type"),
            (PDF | {"size": 101}, "too_large"),
            (PDF | {"sha256": "X" * 64}, "pattern"),
            (PDF | {"filename": "../etc/passwd"}, "pattern"),
            ({k: v for k, v in PDF.items() if k != "size"}, "required"),
        ],
    ),
]


@pytest.mark.parametrize(("spec", "good", "bad"), CASES, ids=[c[0]["type"] + str(i) for i, c in enumerate(CASES)])
def test_field_type(spec: dict[str, Any], good: list[Any], bad: list[tuple[Any, str]]) -> None:
    form = compile_fields(spec)
    for value in good:
        assert errors(form, {"v": value}) == [], value
    for value, code in bad:
        found = errors(form, {"v": value})
        assert len(found) == 1, (value, found)
        pointer, actual = found[0]
        assert pointer.startswith("/answers/v"), (value, found)
        assert actual == code, (value, found)


def test_check_digit_matches_published_numbers() -> None:
    # 国税庁 (7000012050002) and 法務省 (4000012090001), as published in the 法人番号公表サイト.
    assert check_digit("000012050002") == 7
    assert check_digit("000012090001") == 4


def test_required_and_empty_strings() -> None:
    form = compile_fields(field("name", "text", required=True), field("note", "text"))
    assert errors(form, {}) == [("/answers/name", "required")]
    assert errors(form, {"name": ""}) == [("/answers/name", "required")]
    assert errors(form, {"name": "x", "note": ""}) == []


def test_unknown_fields_and_envelope() -> None:
    form = compile_fields(field("name", "text"))
    assert errors(form, {"nmae": "x"}) == [("/answers/nmae", "unknown_field")]
    assert errors(form, {}, extra=1) == [("/extra", "unknown_field")]
    raw = b'{"form_id": "other", "form_version": 2, "answers": []}'
    assert [(e.pointer, e.code) for e in form.validate(raw)] == [
        ("/form_id", "form_mismatch"),
        ("/form_version", "form_mismatch"),
        ("/answers", "type"),
    ]
    assert [(e.pointer, e.code) for e in form.validate(b"{not json")] == [("", "malformed")]
    assert errors(form, {}, nonce="short") == [("/nonce", "pattern")]
    assert errors(form, {}, nonce="n" * 32) == []


def test_group_items_report_their_index() -> None:
    form = compile_fields(
        field(
            "people",
            "group",
            min_items=1,
            max_items=3,
            required=True,
            fields=[field("name", "text", required=True), field("age", "integer", min=0)],
        )
    )
    assert errors(form, {"people": [{"name": "a"}, {"name": "b", "age": 3}]}) == []
    assert errors(form, {"people": [{"name": "a"}, {"age": -1}, "x", {"name": "c", "zz": 1}]}) == [
        ("/answers/people", "max_items"),
        ("/answers/people/1/name", "required"),
        ("/answers/people/1/age", "min"),
        ("/answers/people/2", "type"),
        ("/answers/people/3/zz", "unknown_field"),
    ]
    assert errors(form, {"people": []}) == [("/answers/people", "min_items")]
