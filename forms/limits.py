"""Limits checked on raw bytes before any parser or walker sees them: encoding and nesting depth.

msgspec decodes recursively and raises ``RecursionError`` near 1,000 levels; our walkers recurse
in Python; PyYAML's scanner slows down quadratically with flow nesting. A cheap pass over the
bytes refuses a document nested beyond the limit before any of them runs.
"""

from __future__ import annotations

import re
from typing import Final

#: The default deepest nesting of objects and arrays (a form's groups are two or three levels).
MAX_DEPTH: Final = 64

_ESCAPE: Final = re.compile(rb"\\.", re.DOTALL)
_STRING: Final = re.compile(rb'"[^"]*"')
_NOT_BRACKET: Final = bytes(b for b in range(256) if b not in b"[]{}")
_SQUARE: Final = bytes.maketrans(b"{}", b"[]")


class LimitError(ValueError):
    """The raw document breaks a limit; ``code`` is ``encoding`` or ``depth``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def json_too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON in ``raw`` nests objects and arrays more than ``limit`` deep.

    Escapes, then strings, are cut out (brackets inside strings do not nest), every other byte
    but the brackets is dropped, and each pass removes the innermost ``[]`` pairs: a document
    of depth d is gone after d passes. Each pass is one C-level scan, so the cost is at most
    ``limit`` scans of the brackets. Malformed JSON is not judged here (the parser says why).
    """
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", raw)).translate(_SQUARE, _NOT_BRACKET)
    if b"[" * (limit + 1) in brackets:
        return True  # the usual attack, found in one scan
    for _ in range(limit):
        if not brackets:
            return False
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            return False  # unbalanced: malformed, for the parser to report
        brackets = shorter
    return b"[]" in brackets


def check_json(raw: bytes, limit: int = MAX_DEPTH) -> None:
    """Raise ``LimitError`` unless ``raw`` is UTF-8 (RFC 8259 §8.1) nested at most ``limit`` deep."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LimitError("encoding", f"not UTF-8: byte {exc.start} is {raw[exc.start : exc.start + 1]!r}") from None
    if json_too_deep(raw, limit):
        raise LimitError("depth", f"nested more than {limit} levels deep")
