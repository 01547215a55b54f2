"""Agencies' ``pattern``s: matched with RE2, in linear time, and written so JSON Schema reads them the same.

Python's ``re`` backtracks: ``(a+)+$`` takes seconds at 25 characters and doubles with each more,
so an agency's pattern would let any anonymous visitor stall the server. RE2 guarantees time linear
in the input and refuses what needs backtracking (backreferences, lookaround). Of what RE2 accepts,
a few constructs mean nothing (or something else) to an ECMA-262 engine, which is what JSON Schema
validators in browsers use; those are refused too, so the exported schema and the server agree.
"""

from __future__ import annotations

import functools
from typing import Any, Final

import re2

#: RE2 syntax that ECMA-262 lacks or reads differently, with what to say about it.
_NOT_PORTABLE: Final = (
    ("(?P<", "named groups (?P<name>…) are not JSON Schema (ECMA-262) syntax"),
    ("(?i", "inline flags are not JSON Schema (ECMA-262) syntax"),
    ("(?s", "inline flags are not JSON Schema (ECMA-262) syntax"),
    ("(?m", "inline flags are not JSON Schema (ECMA-262) syntax"),
    ("(?U", "inline flags are not JSON Schema (ECMA-262) syntax"),
    ("\\A", "\\A is not JSON Schema (ECMA-262) syntax; use ^"),
    ("\\z", "\\z is not JSON Schema (ECMA-262) syntax; use $"),
    ("\\Q", "\\Q…\\E quoting is not JSON Schema (ECMA-262) syntax"),
    ("\\C", "\\C is not JSON Schema (ECMA-262) syntax"),
    ("\\p", "Unicode classes \\p{…} need the 'u' flag in ECMA-262; list the characters instead"),
    ("[[:", "POSIX classes [[:…:]] are not JSON Schema (ECMA-262) syntax"),
)
#: RE2 compiles within a memory budget (bytes), so a huge repetition like ``a{1000}{1000}`` is refused.
MAX_PROGRAM_MEMORY: Final = 1 << 20


def _options() -> Any:
    options = re2.Options()
    options.max_mem = MAX_PROGRAM_MEMORY
    options.log_errors = False  # a refused pattern is our answer to the agency, not a line on stderr
    return options


_OPTIONS: Final = _options()


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be an agency's pattern, or None when it can."""
    for construct, reason in _NOT_PORTABLE:
        if construct in pattern:
            return reason
    try:
        re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        message = exc.args[0] if exc.args else exc
        text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        return f"RE2 (linear-time matching) cannot use this pattern: {text}"
    return None


@functools.lru_cache(maxsize=4096)
def compiled(pattern: str) -> Any:
    """The RE2 program of a pattern that ``pattern_problem`` accepted (published forms' patterns)."""
    return re2.compile(pattern, _OPTIONS)


def matches(pattern: str, value: str) -> bool:
    """JSON Schema's meaning of ``pattern``: found anywhere in the value, unless it anchors itself."""
    return compiled(pattern).search(value) is not None
