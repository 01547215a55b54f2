"""Answers validation: the compiled validator against fastjsonschema and jsonschema, same documents.

A realistic form (about 50 answered fields: a 36協定届-style notification with a repeating group of
representatives) and 300 documents: all valid, then a mix with one in five invalid. Every validator
starts from the bytes a client sends (JSON Schema validators get them decoded by msgspec, the fastest
decoder there is); the exported JSON Schema is the one the API serves. The "collect always" row is
our own error walker run on every document: what the fast path saves.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import fastjsonschema
import jsonschema
import msgspec

from forms import CompiledForm, default_components, json_schema, parse_schema

REGISTRY = default_components()
OPTIONS = [{"value": v, "label": {"ja": v}} for v in ("manufacturing", "sales", "office", "logistics", "other")]


def f(id: str, type: str, **props: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "label": {"ja": id}} | props


FIELDS = [
    f("corporate_number", "corporate_number", required=True),
    f("name", "text", required=True, max_length=100),
    f("name_kana", "kana", required=True, max_length=100),
    f("industry", "text", required=True, max_length=100),
    f("postal_code", "postal_code", required=True),
    f("prefecture", "prefecture", required=True),
    f("address", "text", required=True, max_length=200),
    f("building", "text", max_length=100),
    f("phone", "phone", required=True),
    f("fax", "phone"),
    f("email", "email", required=True),
    f("workers", "integer", required=True, min=1, max=1_000_000),
    f("part_timers", "integer", min=0, max=1_000_000),
    f(
        "kind",
        "choice",
        required=True,
        options=[{"value": "general", "label": {"ja": "一般"}}, {"value": "special", "label": {"ja": "特別"}}],
    ),
    f(
        "special_reason",
        "text",
        multiline=True,
        max_length=2000,
        required=True,
        visible_if={"field": "kind", "equals": "special"},
    ),
    f("special_hours", "integer", min=45, max=99, required=True, visible_if={"field": "kind", "equals": "special"}),
    f("special_times", "integer", min=1, max=6, required=True, visible_if={"field": "kind", "equals": "special"}),
    f("start_date", "date", required=True),
    f("end_date", "date", required=True, min_field="start_date"),
    f("agreed_on", "date", required=True, max_field="start_date"),
    f("daily_hours", "decimal", required=True, min=0.5, max=15),
    f("monthly_hours", "integer", required=True, min=1, max=45),
    f("yearly_hours", "integer", required=True, min=1, max=360),
    f("categories", "multi_choice", required=True, min_items=1, options=OPTIONS),
    f("holiday_work", "boolean", required=True),
    f("holiday_days", "integer", min=1, max=4, required_if={"field": "holiday_work", "equals": True}),
    f("holiday_hours", "text", max_length=20, visible_if={"field": "holiday_work", "equals": True}),
    f("health_measures", "multi_choice", options=OPTIONS),
    f("union", "boolean", required=True),
    f("union_name", "text", required=True, max_length=100, visible_if={"field": "union", "equals": True}),
    f("employer_title", "text", required=True, max_length=50),
    f("employer_name", "text", required=True, max_length=60),
    f("employer_name_kana", "kana", required=True),
    f("contact_name", "text", required=True, max_length=60),
    f("contact_phone", "phone", required=True),
    f("contact_email", "email"),
    f("office_code", "text", pattern="^[0-9]{11}$", required=True),
    f("inspection_office", "text", required=True, max_length=50),
    f("notes", "text", multiline=True, max_length=2000),
    f("agreement_pdf", "attachment", media_types=["application/pdf"], max_bytes=10_485_760, required=True),
    f("minutes_pdf", "attachment", media_types=["application/pdf", "image/png"], max_bytes=10_485_760),
    f(
        "representatives",
        "group",
        required=True,
        min_items=1,
        max_items=20,
        fields=[
            f("full_name", "text", required=True, max_length=100),
            f("full_name_kana", "kana", required=True),
            f("post", "text", max_length=50),
            f(
                "selection",
                "choice",
                required=True,
                options=[{"value": v, "label": {"ja": v}} for v in ("vote", "hands", "other")],
            ),
            f("selection_other", "text", required=True, visible_if={"field": "selection", "equals": "other"}),
            f("elected_on", "date", required=True),
        ],
    ),
]
SCHEMA = parse_schema(
    {
        "id": "bench-form",
        "procedure": "mhlw-36-agreement",
        "title": {"ja": "協定届"},
        "sections": [{"id": "s", "title": {"ja": "s"}, "fields": FIELDS}],
    },
    REGISTRY,
)
FORM = CompiledForm(SCHEMA, 1, REGISTRY)


def valid_answers(rng: random.Random) -> dict[str, Any]:
    special = rng.random() < 0.5
    holiday = rng.random() < 0.5
    union = rng.random() < 0.5
    answers: dict[str, Any] = {
        "corporate_number": "7000012050002",
        "name": f"戸田工場{rng.randint(1, 99)}",
        "name_kana": "トダコウジョウ",
        "industry": "金属製品製造業",
        "postal_code": rng.choice(["335-0022", "3350022"]),
        "prefecture": rng.choice(["11", "埼玉県"]),
        "address": "埼玉県戸田市上戸田1-18-1",
        "building": "戸田ビル3階",
        "phone": "048-441-1800",
        "fax": "048-441-1801",
        "email": "roumu@example.co.jp",
        "workers": rng.randint(1, 5000),
        "part_timers": rng.randint(0, 100),
        "kind": "special" if special else "general",
        "start_date": "2026-04-01",
        "end_date": "2027-03-31",
        "agreed_on": "2026-03-15",
        "daily_hours": 3.5,
        "monthly_hours": 45,
        "yearly_hours": 360,
        "categories": rng.sample(["manufacturing", "sales", "office", "logistics"], 2),
        "holiday_work": holiday,
        "health_measures": ["office"],
        "union": union,
        "employer_title": "代表取締役",
        "employer_name": "佐藤 花子",
        "employer_name_kana": "サトウ ハナコ",
        "contact_name": "鈴木 一郎",
        "contact_phone": "090-1234-5678",
        "contact_email": "suzuki@example.co.jp",
        "office_code": "11010123456",
        "inspection_office": "川口労働基準監督署",
        "agreement_pdf": {
            "filename": "協定書.pdf",
            "media_type": "application/pdf",
            "size": 123456,
            "sha256": "ab" * 32,
        },
        "representatives": [
            {
                "full_name": f"山田 太郎{i}",
                "full_name_kana": "ヤマダ タロウ",
                "post": "主任",
                "selection": "vote",
                "elected_on": "2026-03-01",
            }
            for i in range(rng.randint(2, 5))
        ],
    }
    if special:
        answers |= {"special_reason": "決算業務の集中", "special_hours": 80, "special_times": 6}
    if holiday:
        answers |= {"holiday_days": 2, "holiday_hours": "8:30-17:30"}
    if union:
        answers["union_name"] = "戸田工場労働組合"
    return answers


def invalid_answers(rng: random.Random) -> dict[str, Any]:
    answers = valid_answers(rng)
    breakers: list[Callable[[dict[str, Any]], None]] = [
        lambda a: a.update(postal_code="335-002"),
        lambda a: a.update(workers=0),
        lambda a: a.pop("employer_name"),
        lambda a: a.update(phone="048-441"),
        lambda a: a["representatives"][0].update(full_name_kana="やまだ"),
        lambda a: a.update(kind="general", special_reason="x"),
        lambda a: a.update(categories=[]),
        lambda a: a.update(agreement_pdf=a["agreement_pdf"] | {"media_type": "image/png"}),
    ]
    for breaker in rng.sample(breakers, rng.randint(1, 3)):
        breaker(answers)
    return answers


def documents(invalid_share: float, count: int = 300) -> list[bytes]:
    rng = random.Random(2026)  # noqa: S311 - reproducible benchmark data, not a secret
    return [
        msgspec.json.encode(
            {
                "form_id": "bench-form",
                "form_version": 1,
                "answers": (invalid_answers if rng.random() < invalid_share else valid_answers)(rng),
            }
        )
        for _ in range(count)
    ]


def rates(contenders: dict[str, Callable[[bytes], object]], docs: list[bytes], rounds: int = 9) -> dict[str, float]:
    """Documents per second for each, best of ``rounds``.

    The rounds are interleaved (every contender once per round) so that a machine whose speed
    drifts (shared cores, frequency scaling) slows all of them alike and the ratios stay honest.
    """
    best = dict.fromkeys(contenders, 0.0)
    for _ in range(rounds):
        for name, check in contenders.items():
            batch = docs if name != "jsonschema" else docs[:60]
            started = time.perf_counter()
            for raw in batch:
                check(raw)
            best[name] = max(best[name], len(batch) / (time.perf_counter() - started))
    return best


def main() -> None:
    exported = json_schema(FORM)
    exported.pop("x-shinsei-not-expressed")
    fast = fastjsonschema.compile(exported)
    slow = jsonschema.Draft202012Validator(exported, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    decode = msgspec.json.Decoder().decode

    def fastjsonschema_check(raw: bytes) -> bool:
        try:
            fast(decode(raw))
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    contenders: dict[str, Callable[[bytes], object]] = {
        "shinsei compiled": FORM.validate,
        "shinsei collect always": lambda raw: FORM.collect(decode(raw)),
        "fastjsonschema": fastjsonschema_check,
        "jsonschema": lambda raw: slow.is_valid(decode(raw)),
        "msgspec decode alone": decode,
    }
    sample = documents(0.0)
    first = msgspec.json.decode(sample[0])["answers"]
    answered = len(first) - 1 + sum(len(item) for item in first["representatives"])
    print(f"form: {len(FIELDS)} top-level fields; the first document answers {answered}, {len(sample[0])} bytes")
    assert all(not FORM.validate(raw) for raw in sample)
    assert all(fastjsonschema_check(raw) for raw in sample)
    for label, share in (("valid documents", 0.0), ("mix, 20% invalid", 0.2)):
        docs = documents(share)
        measured = rates(contenders, docs)
        ours = measured["shinsei compiled"]
        print(f"\n{label}")
        print(f"  {'validator':<24}{'docs/s':>12}{'shinsei is':>14}")
        for name, value in measured.items():
            ratio = "" if name == "shinsei compiled" else f"{ours / value:>12.1f}x"
            print(f"  {name:<24}{value:>12,.0f}  {ratio}")
    print("\nfloor (valid documents): >= 3x fastjsonschema, >= 30x jsonschema; aim 4x and 50x")


if __name__ == "__main__":
    main()
