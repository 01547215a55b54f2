"""``postal_code``: seven digits, the hyphen optional on input (1000001 or 100-0001)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from forms.components.base import Component, anchored
from forms.schema import PostalCodeField

PATTERN = anchored("[0-9]{3}-?[0-9]{4}")


def normalise(value: str) -> str:
    """The seven digits, as stored and compared."""
    return value.replace("-", "")


class PostalCode(Component[PostalCodeField]):
    spec_type = PostalCodeField
    pattern_hint = "must be 7 digits, hyphen optional (100-0001)"

    def annotation(self, spec: PostalCodeField) -> Any:
        return Annotated[str, msgspec.Meta(pattern=PATTERN)]

    def json_schema(self, spec: PostalCodeField) -> dict[str, Any]:
        return {"type": "string", "pattern": PATTERN}

    def display(self, spec: PostalCodeField, value: Any) -> str:
        digits = normalise(value)
        return f"〒{digits[:3]}-{digits[3:]}"
