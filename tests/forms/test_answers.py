"""Answers for people: labels, option labels, groups, and what changed between two revisions."""

from __future__ import annotations

from typing import Any

import msgspec

from forms import parse_schema
from forms.answers import diff, render
from tests.forms.helpers import REGISTRY, field, schema_data

OPTIONS = [{"value": "full", "label": {"ja": "正社員"}}, {"value": "part", "label": {"ja": "パート"}}]
DAYS = [{"value": "mon", "label": {"ja": "月"}}, {"value": "tue", "label": {"ja": "火"}}]
SCHEMA = parse_schema(
    schema_data(
        field("name", "text", required=True),
        field("kind", "choice", options=OPTIONS),
        field("days", "multi_choice", options=DAYS),
        field("insured", "boolean"),
        field(
            "workers", "group",
            fields=[field("worker_name", "text"), field("hours", "integer")],
        ),
    ),
    REGISTRY,
)  # fmt: skip


def plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


def test_render_uses_labels_in_form_order() -> None:
    answers = {"insured": False, "name": "山田", "kind": "part", "days": ["tue", "mon"],
               "workers": [{"worker_name": "佐藤", "hours": 20}]}  # fmt: skip
    rendered = plain(render(SCHEMA, answers))
    assert [(a["pointer"], a["display"]) for a in rendered] == [
        ("/answers/name", "山田"), ("/answers/kind", "パート"), ("/answers/days", "火、月"),
        ("/answers/insured", "いいえ"), ("/answers/workers", "1件"),
    ]  # fmt: skip
    assert [(a["pointer"], a["display"]) for a in rendered[-1]["items"][0]] == [
        ("/answers/workers/0/worker_name", "佐藤"), ("/answers/workers/0/hours", "20")
    ]  # fmt: skip
    assert plain(render(SCHEMA, {})) == []


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
