"""``email``: an address of the usual shape (local part, ``@``, a dotted domain)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from forms.components.base import Component, anchored
from forms.schema import EmailField

LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
PATTERN = anchored(f"[A-Za-z0-9.!#\\$%&'*+/=?^_`{{|}}~-]+@{LABEL}(?:\\.{LABEL})+")
MAX_LENGTH = 254  # RFC 5321's limit on a forward path


class Email(Component[EmailField]):
    spec_type = EmailField
    pattern_hint = "must be an email address (name@example.jp)"

    def annotation(self, spec: EmailField) -> Any:
        return Annotated[str, msgspec.Meta(pattern=PATTERN, max_length=MAX_LENGTH)]

    def json_schema(self, spec: EmailField) -> dict[str, Any]:
        return {"type": "string", "pattern": PATTERN, "maxLength": MAX_LENGTH}
