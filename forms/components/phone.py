"""``phone``: a Japanese number, 10 or 11 digits from a leading 0, hyphens optional (03-1234-5678)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from forms.components.base import Component, anchored
from forms.schema import PhoneField

# The lookahead counts the digits (10 for fixed lines and 0120, 11 for mobiles and 050), the rest
# fixes the shape; both are plain regex, so JSON Schema enforces exactly the same rule.
PATTERN = anchored("(?=(?:[^0-9]*[0-9]){10,11}[^0-9]*$)0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}")


class Phone(Component[PhoneField]):
    spec_type = PhoneField
    pattern_hint = "must be a Japanese phone number: 10 or 11 digits from a leading 0 (03-1234-5678)"

    def annotation(self, spec: PhoneField) -> Any:
        return Annotated[str, msgspec.Meta(pattern=PATTERN)]

    def json_schema(self, spec: PhoneField) -> dict[str, Any]:
        return {"type": "string", "pattern": PATTERN}
