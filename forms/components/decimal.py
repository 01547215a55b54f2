"""``decimal``: any JSON number, with optional bounds."""

from __future__ import annotations

from typing import Annotated, Any

from forms.components.base import Component, json_constraints, meta, min_max_error
from forms.errors import FieldError
from forms.schema import DecimalField


class Decimal(Component[DecimalField]):
    spec_type = DecimalField
    is_string = False

    def annotation(self, spec: DecimalField) -> Any:
        return Annotated[float, meta(ge=spec.min, le=spec.max)]

    def json_schema(self, spec: DecimalField) -> dict[str, Any]:
        return {"type": "number"} | json_constraints(minimum=spec.min, maximum=spec.max)

    def schema_errors(self, spec: DecimalField, pointer: str) -> list[FieldError]:
        return min_max_error(pointer, spec.min, spec.max)
