"""visible_if / required_if: nested, inside groups, reading siblings and top-level fields."""

from __future__ import annotations

from tests.forms.helpers import compile_fields, errors, field

OPTIONS = [{"value": v, "label": {"ja": v}} for v in ("general", "special", "other")]


def test_visible_if_hides_and_requires() -> None:
    form = compile_fields(
        field("kind", "choice", options=OPTIONS, required=True),
        field("reason", "text", required=True, visible_if={"field": "kind", "equals": "special"}),
    )
    assert errors(form, {"kind": "general"}) == []
    assert errors(form, {"kind": "special"}) == [("/answers/reason", "required")]
    assert errors(form, {"kind": "special", "reason": "納期"}) == []
    assert errors(form, {"kind": "general", "reason": "納期"}) == [("/answers/reason", "not_applicable")]


def test_required_if_and_operators() -> None:
    form = compile_fields(
        field("holiday", "boolean"),
        field("days", "integer", required_if={"field": "holiday", "equals": True}),
        field("kind", "choice", options=OPTIONS),
        field("note", "text", required_if={"field": "kind", "in": ["special", "other"]}),
        field("other", "text", visible_if={"field": "kind", "not_equals": "general"}),
        field("flag", "boolean", visible_if={"field": "note", "present": True}),
    )
    assert errors(form, {}) == []
    assert errors(form, {"holiday": True}) == [("/answers/days", "required")]
    assert errors(form, {"holiday": False}) == []
    assert errors(form, {"kind": "other"}) == [("/answers/note", "required")]
    assert errors(form, {"kind": "general", "other": "x"}) == [("/answers/other", "not_applicable")]
    assert errors(form, {"other": "x"}) == []  # not_equals holds when kind is unanswered
    assert errors(form, {"flag": True}) == [("/answers/flag", "not_applicable")]
    assert errors(form, {"kind": "special", "note": "n", "flag": False}) == []


def test_true_is_not_one() -> None:
    form = compile_fields(
        field("n", "integer"),
        field("x", "text", visible_if={"field": "n", "equals": 1}),
        field("b", "boolean"),
        field("y", "text", visible_if={"field": "b", "equals": True}),
    )
    assert errors(form, {"n": 1, "x": "ok"}) == []
    assert errors(form, {"b": True, "y": "ok"}) == []
    assert errors(form, {"n": 2, "x": "no"}) == [("/answers/x", "not_applicable")]


def test_nested_all_any_not() -> None:
    condition = {
        "all": [
            {"field": "kind", "equals": "special"},
            {"any": [{"field": "workers", "in": [50, 100]}, {"not": {"field": "small", "equals": True}}]},
        ]
    }
    form = compile_fields(
        field("kind", "choice", options=OPTIONS),
        field("workers", "integer"),
        field("small", "boolean"),
        field("report", "text", required=True, visible_if=condition),
    )
    assert errors(form, {"kind": "special", "small": False}) == [("/answers/report", "required")]
    assert errors(form, {"kind": "special", "small": True, "workers": 50}) == [("/answers/report", "required")]
    assert errors(form, {"kind": "special", "small": True, "workers": 10}) == []
    assert errors(form, {"kind": "general", "small": False, "report": "x"}) == [("/answers/report", "not_applicable")]


def test_multi_choice_membership() -> None:
    options = [{"value": v, "label": {"ja": v}} for v in ("a", "b")]
    form = compile_fields(
        field("picked", "multi_choice", options=options),
        field("about_b", "text", required=True, visible_if={"field": "picked", "equals": "b"}),
    )
    assert errors(form, {"picked": ["a"]}) == []
    assert errors(form, {"picked": ["a", "b"]}) == [("/answers/about_b", "required")]


def test_conditions_inside_groups_read_siblings_then_top_level() -> None:
    form = compile_fields(
        field("need", "choice", options=OPTIONS, required=True),
        field(
            "children",
            "group",
            required=True,
            fields=[
                field("allergy", "boolean", required=True),
                field("detail", "text", required=True, visible_if={"field": "allergy", "equals": True}),
                field("sibling", "boolean", visible_if={"field": "need", "equals": "general"}),
                field(
                    "both",
                    "text",
                    required_if={"all": [{"field": "allergy", "equals": True}, {"field": "need", "equals": "other"}]},
                ),
            ],
        ),
    )
    assert errors(form, {"need": "general", "children": [{"allergy": False, "sibling": True}]}) == []
    assert errors(
        form,
        {
            "need": "other",
            "children": [
                {"allergy": True, "detail": "卵"},
                {"allergy": False, "detail": "x", "sibling": True},
                {"allergy": True},
            ],
        },
    ) == [
        ("/answers/children/0/both", "required"),
        ("/answers/children/1/detail", "not_applicable"),
        ("/answers/children/1/sibling", "not_applicable"),
        ("/answers/children/2/detail", "required"),
        ("/answers/children/2/both", "required"),
    ]


def test_date_order_between_fields_and_in_groups() -> None:
    form = compile_fields(
        field("start", "date", required=True),
        field("end", "date", required=True, min_field="start"),
        field("periods", "group", fields=[field("a", "date"), field("b", "date", min_field="a", max_field="end")]),
    )
    assert errors(form, {"start": "2026-04-01", "end": "2027-03-31"}) == []
    assert errors(form, {"start": "2026-04-01", "end": "2026-03-31"}) == [("/answers/end", "date_order")]
    periods = [{"a": "2026-05-01", "b": "2026-04-01"}, {"a": "2026-05-01", "b": "2027-04-01"}, {"b": "2026-05-01"}]
    assert errors(form, {"start": "2026-04-01", "end": "2027-03-31", "periods": periods}) == [
        ("/answers/periods/0/b", "date_order"),
        ("/answers/periods/1/b", "date_order"),
    ]


def test_conditions_on_dates_compare_days() -> None:
    form = compile_fields(
        field("day", "date"),
        field("new_year", "text", required=True, visible_if={"field": "day", "in": ["2027-01-01", "2028-01-01"]}),
        field("not_xmas", "boolean", visible_if={"field": "day", "not_equals": "2026-12-25"}),
    )
    assert errors(form, {"day": "2027-01-01", "new_year": "あけおめ"}) == []
    assert errors(form, {"day": "2027-01-02", "new_year": "x"}) == [("/answers/new_year", "not_applicable")]
    assert errors(form, {"day": "2026-12-25", "not_xmas": True}) == [("/answers/not_xmas", "not_applicable")]
