"""``choice``: exactly one of the options' values."""

from __future__ import annotations

from typing import Any, Literal

from forms.components.base import Component
from forms.errors import FieldError
from forms.schema import ChoiceField, Option


def duplicate_options(options: list[Option], pointer: str) -> list[FieldError]:
    seen: set[str] = set()
    errors = []
    for index, option in enumerate(options):
        if option.value in seen:
            errors.append(
                FieldError(pointer=f"{pointer}/options/{index}/value", code="duplicate", detail="repeats a value")
            )
        seen.add(option.value)
    return errors


class Choice(Component[ChoiceField]):
    spec_type = ChoiceField

    def annotation(self, spec: ChoiceField) -> Any:
        return Literal[tuple(o.value for o in spec.options)]

    def json_schema(self, spec: ChoiceField) -> dict[str, Any]:
        return {"enum": [o.value for o in spec.options]}

    def schema_errors(self, spec: ChoiceField, pointer: str) -> list[FieldError]:
        return duplicate_options(spec.options, pointer)

    def display(self, spec: ChoiceField, value: Any) -> str:
        return next((o.label.ja for o in spec.options if o.value == value), str(value))
