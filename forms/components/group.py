"""``group``: a repeating list of items; the compiler builds the item type from the sub-fields."""

from __future__ import annotations

from typing import Any

from forms.components.base import Component, json_constraints, min_max_error
from forms.errors import FieldError
from forms.schema import GroupField


class Group(Component[GroupField]):
    spec_type = GroupField
    is_string = False
    is_list = True

    def annotation(self, spec: GroupField) -> Any:
        raise TypeError("a group's type depends on its sub-fields: forms.compile builds it")

    def json_schema(self, spec: GroupField) -> dict[str, Any]:
        return {"type": "array"} | json_constraints(minItems=spec.min_items, maxItems=spec.max_items)

    def schema_errors(self, spec: GroupField, pointer: str) -> list[FieldError]:
        errors = min_max_error(pointer, spec.min_items, spec.max_items, "min_items", "max_items")
        errors.extend(
            FieldError(pointer=f"{pointer}/fields/{i}/type", code="nesting", detail="groups cannot contain groups")
            for i, sub in enumerate(spec.fields)
            if isinstance(sub, GroupField)
        )
        return errors

    def display(self, spec: GroupField, value: Any) -> str:
        return f"{len(value)}件" if isinstance(value, list) else str(value)
