"""Answers for people: labels, each field type's own display, groups, and what changed between two revisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from forms import ComponentRegistry, parse_schema
from forms.answers import change_display, diff, render
from forms.components.date import Date
from forms.components.group import Group
from forms.schema import DateField
from tests.forms.helpers import REGISTRY, field, schema_data

OPTIONS = [{"value": "full", "label": {"ja": "正社員"}}, {"value": "part", "label": {"ja": "パート"}}]
DAYS = [{"value": "mon", "label": {"ja": "月"}}, {"value": "tue", "label": {"ja": "火"}}]
SCHEMA = parse_schema(
    schema_data(
        field("name", "text", required=True),
        field("kind", "choice", options=OPTIONS),
        field("days", "multi_choice", options=DAYS),
        field("insured", "boolean"),
        field("start", "date"),
        field("prefecture", "prefecture"),
        field("postal_code", "postal_code"),
        field(
            "workers", "group",
            fields=[field("worker_name", "text"), field("hours", "integer"), field("born", "date")],
        ),
    ),
    REGISTRY,
)  # fmt: skip


def plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


def test_render_uses_labels_in_form_order() -> None:
    answers = {"insured": False, "name": "山田", "kind": "part", "days": ["tue", "mon"], "start": "2026-11-01",
               "prefecture": "13", "postal_code": "1000001",
               "workers": [{"worker_name": "佐藤", "hours": 1200, "born": "2019-04-30"}]}  # fmt: skip
    rendered = plain(render(SCHEMA, answers, REGISTRY))
    assert [(a["pointer"], a["display"]) for a in rendered] == [
        ("/answers/name", "山田"), ("/answers/kind", "パート"), ("/answers/days", "火、月"),
        ("/answers/insured", "いいえ"), ("/answers/start", "令和8年11月1日 (2026-11-01)"),
        ("/answers/prefecture", "東京都"), ("/answers/postal_code", "〒100-0001"), ("/answers/workers", "1件"),
    ]  # fmt: skip
    assert [(a["pointer"], a["display"]) for a in rendered[-1]["items"][0]] == [
        ("/answers/workers/0/worker_name", "佐藤"), ("/answers/workers/0/hours", "1,200"),
        ("/answers/workers/0/born", "平成31年4月30日 (2019-04-30)"),
    ]  # fmt: skip
    assert rendered[4]["value"] == "2026-11-01"  # the answer as signed stays beside its display
    assert plain(render(SCHEMA, {}, REGISTRY)) == []


class IsoDate(Date):
    """A field type of an embedder's registry that shows dates its own way."""

    def display(self, spec: DateField, value: Any) -> str:
        return f"ISO {value}"


def test_render_shows_each_answer_through_the_registry_it_is_given() -> None:
    registry = ComponentRegistry()  # only the types answered below: render asks the registry for each
    registry.add(IsoDate())
    registry.add(Group())
    answers = {"start": "2026-11-01", "workers": [{"born": "2019-05-01"}]}
    rendered = render(SCHEMA, answers, registry)
    assert [a.display for a in rendered] == ["ISO 2026-11-01", "1件"]
    assert rendered[1].items is not None and [a.display for a in rendered[1].items[0]] == ["ISO 2019-05-01"]


def test_dates_display_as_era_dates_with_the_iso_date_on_both_paths() -> None:
    spec = next(s for s in SCHEMA.fields() if s.id == "start")
    assert REGISTRY.display(spec, "2026-11-01") == "令和8年11月1日 (2026-11-01)"
    assert REGISTRY.display(spec, dt.date(2019, 5, 1)) == "令和元年5月1日 (2019-05-01)"  # as msgspec decodes it
    assert REGISTRY.display(spec, "1872-12-31") == "1872-12-31"  # before the Gregorian calendar: no era date
    assert REGISTRY.display(spec, "not a date") == "not a date"


def test_diff_names_each_changed_answer_by_pointer() -> None:
    before = {
        "name": "山田",
        "kind": "full",
        "workers": [{"worker_name": "佐藤", "hours": 20}, {"worker_name": "鈴木"}],
    }
    after = {"name": "山田", "insured": True, "workers": [{"worker_name": "佐藤", "hours": 25}]}
    assert [(c["pointer"], c["before"], c["after"]) for c in plain(diff(SCHEMA, before, after))] == [
        ("/answers/kind", "full", None),
        ("/answers/insured", None, True),
        ("/answers/workers/0/hours", 20, 25),
        ("/answers/workers/1", {"worker_name": "鈴木"}, None),
    ]
    assert diff(SCHEMA, after, after) == []


def test_a_changes_sides_are_shown_by_their_field_types() -> None:
    before = {"start": "2019-04-30", "prefecture": "東京都", "workers": [{"worker_name": "佐藤", "born": "1989-01-07"}]}
    after = {
        "start": "2019-05-01",
        "prefecture": "27",
        "workers": [{"worker_name": "佐藤", "born": "1989-01-08"}, {"worker_name": "鈴木", "hours": 8}],
    }
    shown = [(c.pointer, change_display(SCHEMA, c, REGISTRY)) for c in diff(SCHEMA, before, after)]
    assert shown == [
        ("/answers/start", ("平成31年4月30日 (2019-04-30)", "令和元年5月1日 (2019-05-01)")),
        ("/answers/prefecture", ("東京都", "大阪府")),
        ("/answers/workers/0/born", ("昭和64年1月7日 (1989-01-07)", "平成元年1月8日 (1989-01-08)")),
        ("/answers/workers/1", ("", "worker_name: 鈴木; hours: 8")),
    ]
