"""``date``: ISO ``YYYY-MM-DD``, a real calendar date, with bounds fixed or taken from another date field."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec

from forms.components.base import Component, Lookup, anchored, min_max_error
from forms.errors import FieldError
from forms.japanese_era import era_date
from forms.schema import DateField

PATTERN = anchored("[0-9]{4}-[0-9]{2}-[0-9]{2}")
MISSING = msgspec.UNSET


def parse(value: Any) -> dt.date | None:
    """The day an answer names: a ``date`` on the fast path (msgspec parsed it), a string on the slow one."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


class Date(Component[DateField]):
    spec_type = DateField
    is_string = True

    def annotation(self, spec: DateField) -> Any:
        # msgspec parses RFC 3339 full-dates in C, calendar included: exactly JSON Schema's "date"
        # format with our pattern. Fast-path checks then compare date objects.
        return dt.date

    def json_schema(self, spec: DateField) -> dict[str, Any]:
        return {"type": "string", "pattern": PATTERN, "format": "date"}

    def has_rules(self, spec: DateField) -> bool:
        return any(bound is not None for bound in (spec.min, spec.max, spec.min_field, spec.max_field))

    def reads_fields(self, spec: DateField) -> bool:
        return spec.min_field is not None or spec.max_field is not None

    def rules(self, spec: DateField, value: Any, pointer: str, lookup: Lookup) -> list[FieldError]:
        day = parse(value)
        if day is None:
            return [FieldError(pointer=pointer, code="format", detail="is not a calendar date")]
        errors = []
        if spec.min is not None and day < spec.min:
            errors.append(FieldError(pointer=pointer, code="min", detail=f"must be on or after {spec.min}"))
        if spec.max is not None and day > spec.max:
            errors.append(FieldError(pointer=pointer, code="max", detail=f"must be on or before {spec.max}"))
        if spec.min_field is not None and (low := parse(lookup(spec.min_field))) is not None and day < low:
            errors.append(FieldError(pointer=pointer, code="date_order", detail=f"must not be before {spec.min_field}"))
        if spec.max_field is not None and (high := parse(lookup(spec.max_field))) is not None and day > high:
            errors.append(FieldError(pointer=pointer, code="date_order", detail=f"must not be after {spec.max_field}"))
        return errors

    def schema_errors(self, spec: DateField, pointer: str) -> list[FieldError]:
        return min_max_error(pointer, spec.min, spec.max)

    def display(self, spec: DateField, value: Any) -> str:
        """The era date official papers use, with the ISO date (unambiguous, and what was signed) beside it."""
        day = parse(value)
        if day is None:
            return str(value)
        era = era_date(day)
        return f"{era} ({day.isoformat()})" if era is not None else day.isoformat()
