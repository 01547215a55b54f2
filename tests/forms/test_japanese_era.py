"""Era dates (和暦) at every era's first day and the day before it, as official papers write them."""

from __future__ import annotations

import datetime as dt

import pytest

from forms.japanese_era import era_date


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 11, 1), "令和8年11月1日"),
        (dt.date(2020, 1, 1), "令和2年1月1日"),
        (dt.date(2019, 12, 31), "令和元年12月31日"),
        (dt.date(2019, 5, 1), "令和元年5月1日"),
        (dt.date(2019, 4, 30), "平成31年4月30日"),
        (dt.date(1990, 1, 1), "平成2年1月1日"),
        (dt.date(1989, 1, 8), "平成元年1月8日"),
        (dt.date(1989, 1, 7), "昭和64年1月7日"),
        (dt.date(1926, 12, 25), "昭和元年12月25日"),
        (dt.date(1926, 12, 24), "大正15年12月24日"),
        (dt.date(1912, 7, 30), "大正元年7月30日"),
        (dt.date(1912, 7, 29), "明治45年7月29日"),
        (dt.date(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_each_era_begins_on_its_proclaimed_day(day: dt.date, expected: str) -> None:
    assert era_date(day) == expected


def test_days_before_the_gregorian_reform_have_no_era_date() -> None:
    assert era_date(dt.date(1872, 12, 31)) is None
    assert era_date(dt.date(1, 1, 1)) is None
