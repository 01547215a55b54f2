"""``boolean``: true or false (はい / いいえ)."""

from __future__ import annotations

from typing import Any

from forms.components.base import Component
from forms.schema import BooleanField


class Boolean(Component[BooleanField]):
    spec_type = BooleanField
    is_string = False

    def annotation(self, spec: BooleanField) -> Any:
        return bool

    def json_schema(self, spec: BooleanField) -> dict[str, Any]:
        return {"type": "boolean"}

    def display(self, spec: BooleanField, value: Any) -> str:
        return "はい" if value else "いいえ"
