"""``multi_choice``: a list of distinct option values, with optional bounds on how many."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from forms.components.base import Component, Lookup, json_constraints, meta, min_max_error
from forms.components.choice import duplicate_options
from forms.errors import FieldError
from forms.schema import MultiChoiceField


class MultiChoice(Component[MultiChoiceField]):
    spec_type = MultiChoiceField
    is_string = False
    is_list = True

    def annotation(self, spec: MultiChoiceField) -> Any:
        item: Any = Literal[tuple(o.value for o in spec.options)]
        return Annotated[list[item], meta(min_length=spec.min_items, max_length=spec.max_items)]

    def json_schema(self, spec: MultiChoiceField) -> dict[str, Any]:
        return {
            "type": "array",
            "items": {"enum": [o.value for o in spec.options]},
            "uniqueItems": True,
        } | json_constraints(minItems=spec.min_items, maxItems=spec.max_items)

    def has_rules(self, spec: MultiChoiceField) -> bool:
        return True

    def rules(self, spec: MultiChoiceField, value: Any, pointer: str, lookup: Lookup) -> list[FieldError]:
        if len(set(value)) != len(value):
            return [FieldError(pointer=pointer, code="duplicate", detail="lists an option more than once")]
        return []

    def schema_errors(self, spec: MultiChoiceField, pointer: str) -> list[FieldError]:
        return duplicate_options(spec.options, pointer) + min_max_error(
            pointer, spec.min_items, spec.max_items, "min_items", "max_items"
        )

    def display(self, spec: MultiChoiceField, value: Any) -> str:
        labels = {o.value: o.label.ja for o in spec.options}
        return "、".join(labels.get(v, str(v)) for v in value)
