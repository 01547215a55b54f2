"""``integer``: a JSON integer (``1.0`` is not one), with optional bounds."""

from __future__ import annotations

from typing import Annotated, Any

from forms.components.base import Component, json_constraints, meta, min_max_error
from forms.errors import FieldError
from forms.schema import IntegerField


class Integer(Component[IntegerField]):
    spec_type = IntegerField
    is_string = False

    def annotation(self, spec: IntegerField) -> Any:
        return Annotated[int, meta(ge=spec.min, le=spec.max)]

    def json_schema(self, spec: IntegerField) -> dict[str, Any]:
        return {"type": "integer"} | json_constraints(minimum=spec.min, maximum=spec.max)

    def schema_errors(self, spec: IntegerField, pointer: str) -> list[FieldError]:
        return min_max_error(pointer, spec.min, spec.max)

    def display(self, spec: IntegerField, value: Any) -> str:
        return f"{value:,}"
