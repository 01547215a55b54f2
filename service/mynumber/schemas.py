"""Wire types for reading one answer, and revealing a 個人番号."""

from __future__ import annotations

from typing import Any

import msgspec

from forms.schema import Text


class AnswerOut(msgspec.Struct, frozen=True, kw_only=True):
    pointer: str
    """JSON pointer into the signed document (``/answers/...``)."""
    revision: int
    label: Text
    type: str
    value: Any
    """As signed; a 個人番号 masked (``**** **** 1234``) unless ``revealed``."""
    display: str
    revealed: bool
    """True only for a 個人番号 shown in full: to a holder of ``my_number:read`` who gave a reason (audited)."""
