"""``kana``: full-width katakana (フリガナ), with ー and full-width or ASCII spaces."""

from __future__ import annotations

from typing import Annotated, Any

from forms.components.base import Component, anchored, json_constraints, meta, min_max_error
from forms.errors import FieldError
from forms.schema import KanaField

PATTERN = anchored("[ァ-ヺー\u3000 ]+")


class Kana(Component[KanaField]):
    spec_type = KanaField
    pattern_hint = "must be full-width katakana; spaces and ー are allowed"

    def annotation(self, spec: KanaField) -> Any:
        return Annotated[str, meta(pattern=PATTERN, min_length=spec.min_length, max_length=spec.max_length)]

    def json_schema(self, spec: KanaField) -> dict[str, Any]:
        return {"type": "string", "pattern": PATTERN} | json_constraints(
            minLength=spec.min_length, maxLength=spec.max_length
        )

    def schema_errors(self, spec: KanaField, pointer: str) -> list[FieldError]:
        return min_max_error(pointer, spec.min_length, spec.max_length, "min_length", "max_length")
