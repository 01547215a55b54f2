"""JSON Merge Patch (RFC 7396): how a draft's answers are changed a few at a time."""

from __future__ import annotations

from typing import Any


def apply(target: Any, patch: Any) -> Any:
    """RFC 7396 §2, verbatim: objects merge member by member, ``null`` removes, anything else replaces.

    Arrays are replaced whole (a group's items are sent again in full), as the RFC says.
    """
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = apply(result.get(name), value)
    return result
