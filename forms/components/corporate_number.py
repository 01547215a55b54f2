"""``corporate_number``: the 13-digit 法人番号, whose first digit is a check digit."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from forms.components.base import Component, Lookup, anchored
from forms.errors import FieldError
from forms.schema import CorporateNumberField

PATTERN = anchored("[1-9][0-9]{12}")


def check_digit(base: str) -> int:
    """The check digit of the 12-digit base (法人番号の指定を受けた者の... 省令 第2条).

    9 - (sum of P_n * Q_n mod 9), with P_n the n-th digit counted from the right and Q_n = 1 for odd
    n, 2 for even n.
    """
    digits = base.encode()  # ASCII digits (the pattern guarantees it): byte - 48 is the digit
    # 6 digits at odd and 6 at even positions from the right: subtract 48 from each.
    total = sum(digits[-1::-2]) + 2 * sum(digits[-2::-2]) - 48 * 18
    return 9 - total % 9


def is_valid(value: str) -> bool:
    return ord(value[0]) - 48 == check_digit(value[1:])


class CorporateNumber(Component[CorporateNumberField]):
    spec_type = CorporateNumberField
    pattern_hint = "must be the 13 digits of a corporate number (法人番号)"

    def annotation(self, spec: CorporateNumberField) -> Any:
        return Annotated[str, msgspec.Meta(pattern=PATTERN)]

    def json_schema(self, spec: CorporateNumberField) -> dict[str, Any]:
        # The check digit is arithmetic; JSON Schema can carry only the shape.
        return {"type": "string", "pattern": PATTERN}

    def has_rules(self, spec: CorporateNumberField) -> bool:
        return True

    def rules(self, spec: CorporateNumberField, value: Any, pointer: str, lookup: Lookup) -> list[FieldError]:
        if not is_valid(value):
            return [FieldError(pointer=pointer, code="check_digit", detail="the check digit does not match")]
        return []
