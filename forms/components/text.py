"""``text``: free text, single-line unless ``multiline``, with optional length and pattern."""

from __future__ import annotations

from typing import Annotated, Any

from forms.components.base import Component, Lookup, json_constraints, meta, min_max_error
from forms.errors import FieldError
from forms.patterns import matches, pattern_problem
from forms.schema import TextField

SINGLE_LINE = r"^[^\n\r]*$(?!\n)"


class Text(Component[TextField]):
    spec_type = TextField
    newline_rules = True

    def annotation(self, spec: TextField) -> Any:
        # The pattern is not given to msgspec, which would match it with Python's backtracking ``re``:
        # it is a rule, matched with RE2 (forms/patterns.py).
        low = max(spec.min_length or 0, 1 if spec.required else 0) or None
        return Annotated[str, meta(min_length=low, max_length=spec.max_length)]

    def json_schema(self, spec: TextField) -> dict[str, Any]:
        low = max(spec.min_length or 0, 1 if spec.required else 0) or None
        schema = {"type": "string"} | json_constraints(minLength=low, maxLength=spec.max_length, pattern=spec.pattern)
        if not spec.multiline:
            schema = (
                {"allOf": [schema, {"pattern": SINGLE_LINE}]} if spec.pattern else schema | {"pattern": SINGLE_LINE}
            )
        return schema

    def has_rules(self, spec: TextField) -> bool:
        # Single-line is a rule, not a msgspec pattern: a regex call per field costs more than
        # scanning the document once for escaped newlines (see CompiledForm.validate).
        return not spec.multiline or spec.pattern is not None

    def only_newline_rules(self, spec: TextField) -> bool:
        return spec.pattern is None

    def rules(self, spec: TextField, value: Any, pointer: str, lookup: Lookup) -> list[FieldError]:
        if not spec.multiline and ("\n" in value or "\r" in value):
            return [FieldError(pointer=pointer, code="pattern", detail="must be a single line")]
        if spec.pattern is not None and not matches(spec.pattern, value):
            return [FieldError(pointer=pointer, code="pattern", detail=f"must match the pattern {spec.pattern!r}")]
        return []

    def schema_errors(self, spec: TextField, pointer: str) -> list[FieldError]:
        errors = min_max_error(pointer, spec.min_length, spec.max_length, "min_length", "max_length")
        if spec.pattern is not None and (problem := pattern_problem(spec.pattern)):
            errors.append(FieldError(pointer=f"{pointer}/pattern", code="pattern", detail=problem))
        return errors
