"""``attachment``: the answer describes a file sent with the submission, so the signature covers it."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

import msgspec

from forms.components.base import SHA256_PATTERN, Component, Lookup, anchored
from forms.errors import FieldError, collect_errors
from forms.schema import AttachmentField

FILENAME = anchored("[^/\\\\\\x00-\\x1f]{1,255}")


@cache
def _answer_type(media_types: tuple[str, ...], max_bytes: int) -> type[msgspec.Struct]:
    return msgspec.defstruct(
        "AttachmentAnswer",
        [
            ("filename", Annotated[str, msgspec.Meta(pattern=FILENAME)]),
            ("media_type", Literal[media_types]),
            ("size", Annotated[int, msgspec.Meta(ge=0, le=max_bytes)]),
            ("sha256", Annotated[str, msgspec.Meta(pattern=SHA256_PATTERN)]),
        ],
        forbid_unknown_fields=True,
        frozen=True,
    )


class Attachment(Component[AttachmentField]):
    spec_type = AttachmentField
    is_string = False

    def annotation(self, spec: AttachmentField) -> Any:
        return _answer_type(tuple(spec.media_types), spec.max_bytes)

    def json_schema(self, spec: AttachmentField) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "filename": {"type": "string", "pattern": FILENAME},
                "media_type": {"enum": list(spec.media_types)},
                "size": {"type": "integer", "minimum": 0, "maximum": spec.max_bytes},
                "sha256": {"type": "string", "pattern": SHA256_PATTERN},
            },
            "required": ["filename", "media_type", "size", "sha256"],
            "additionalProperties": False,
        }

    def check(
        self, spec: AttachmentField, value: Any, pointer: str, lookup: Lookup, annotation: Any = None
    ) -> list[FieldError]:
        errors = []
        for error in collect_errors(value, annotation or self.annotation(spec), pointer):
            if error.pointer == f"{pointer}/media_type" and error.code == "choice":
                error = FieldError(
                    pointer=error.pointer, code="media_type", detail=f"must be one of {', '.join(spec.media_types)}"
                )
            elif error.pointer == f"{pointer}/size" and error.code == "max":
                error = FieldError(pointer=error.pointer, code="too_large", detail=f"exceeds {spec.max_bytes} bytes")
            errors.append(error)
        return errors

    def display(self, spec: AttachmentField, value: Any) -> str:
        return f"{value['filename']} ({value['size']:,} bytes)" if isinstance(value, dict) else str(value)
