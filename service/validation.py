"""Every problem in a request, as ``FieldProblem``s: body fields by pointer, parameters by name."""

from __future__ import annotations

from typing import Any

import msgspec

from forms.errors import code_for, collect_errors, escape


class FieldProblem(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True):
    """One offending field: a JSON pointer into the body, or the name of a query/path parameter."""

    code: str
    detail: str
    pointer: str | None = None
    parameter: str | None = None


def collect_problems(value: Any, annotation: Any, pointer: str = "") -> list[FieldProblem]:
    """Every problem in decoded JSON ``value`` against ``annotation`` (see ``forms.errors``)."""
    return [
        FieldProblem(pointer=e.pointer, code=e.code, detail=e.detail)
        for e in collect_errors(value, annotation, pointer)
    ]


def problems_from_litestar(extra: list[Any]) -> list[FieldProblem]:
    """Litestar's ``ValidationException.extra`` entries (``{key, message, source}``) as problems."""
    problems = []
    for entry in extra:
        if not isinstance(entry, dict):
            continue
        message = str(entry.get("message", "is not valid"))
        key = str(entry.get("key", ""))
        if entry.get("source") == "body":
            pointer = "" if key in ("", "data") else "/" + "/".join(escape(p) for p in key.split("."))
            problems.append(FieldProblem(pointer=pointer, code=code_for(message), detail=message))
        else:
            problems.append(FieldProblem(parameter=key, code=code_for(message), detail=message))
    return problems
