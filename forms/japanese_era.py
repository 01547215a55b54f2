"""A Gregorian day in the Japanese era calendar (和暦), as Japanese official documents write dates.

Hand-written rather than a dependency: five table rows and one subtraction. Each era starts on the
day given by its proclamation (元号を改める政令); its first year is written 元年, as forms and
notices do (令和元年5月1日). Before 1873-01-01 Japan used the lunisolar calendar, so a Gregorian
day then has no era date in this sense: ``era_date`` answers None for it.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

#: (first day, name), newest first; 明治 by the Gregorian date of its proclamation, as in
#: signing/jpki.py (only its year counts here: no date before 1873 is converted).
ERAS: Final = (
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
    (dt.date(1912, 7, 30), "大正"),
    (dt.date(1868, 10, 23), "明治"),
)
#: The first Gregorian day of the Japanese calendar (the reform of 明治5年 made 12月3日 this day).
GREGORIAN_SINCE: Final = dt.date(1873, 1, 1)


def era_date(day: dt.date) -> str | None:
    """``令和8年11月1日`` for 2026-11-01, ``令和元年5月1日`` for 2019-05-01; None before 1873."""
    if day < GREGORIAN_SINCE:
        return None
    start, name = next((start, name) for start, name in ERAS if day >= start)
    year = day.year - start.year + 1
    return f"{name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
