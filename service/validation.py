"""Collect every problem in a decoded request body, where msgspec stops at the first one."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from typing import Any, Final

import msgspec

_AT_PATH: Final = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_PATH_PART: Final = re.compile(r"\.([^.\[]+)|\[(\d+)\]")

#: msgspec's error messages, mapped to the stable codes clients may switch on.
_CODES: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern), code)
    for pattern, code in (
        (r"^Object missing required field", "required"),
        (r"^Object contains unknown field", "unknown_field"),
        (r"^Expected `str` of length >=", "min_length"),
        (r"^Expected `str` of length <=", "max_length"),
        (r"^Expected `(array|object)` of length >=", "min_items"),
        (r"^Expected `(array|object)` of length <=", "max_items"),
        (r"^Expected `str` matching regex", "pattern"),
        (r"^Expected `(int|float|decimal)` >", "min"),
        (r"^Expected `(int|float|decimal)` <", "max"),
        (r"^Invalid enum value", "choice"),
        (r"^Invalid (RFC3339|ISO|date|time|datetime|UUID|uuid)", "format"),
        (r"^Expected `", "type"),
    )
)


class FieldProblem(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True):
    """One offending field: a JSON pointer into the body, or the name of a query/path parameter."""

    code: str
    detail: str
    pointer: str | None = None
    parameter: str | None = None


def escape(token: str) -> str:
    """RFC 6901 escaping of one reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def _code(message: str) -> str:
    for pattern, code in _CODES:
        if pattern.search(message):
            return code
    return "invalid"


def from_msgspec(error: msgspec.ValidationError, base: str = "") -> FieldProblem:
    """Turn msgspec's ``message - at `$.a[0].b``` into a pointer below ``base`` and a code."""
    message = str(error)
    pointer = base
    if match := _AT_PATH.search(message):
        message = message[: match.start()]
        for key, index in _PATH_PART.findall(match["path"]):
            pointer += "/" + escape(key or index)
    if field := re.search(r"field `([^`]+)`$", message):
        pointer += "/" + escape(field[1])
    return FieldProblem(pointer=pointer, code=_code(message), detail=message)


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _struct_type(annotation: Any) -> type[msgspec.Struct] | None:
    """The Struct a field holds, seeing through Annotated and ``X | None``."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _struct_type(members[0])
    return None


def _item_type(annotation: Any) -> Any | None:
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) in (list, tuple, set, frozenset, Sequence):
        args = typing.get_args(annotation)
        if args and (len(args) == 1 or args[1] is Ellipsis):
            return args[0]
    return None


def collect_problems(value: Any, annotation: Any, pointer: str = "") -> list[FieldProblem]:
    """Check ``value`` (decoded JSON) against ``annotation`` and return every problem found.

    Structs and lists are walked member by member so that one bad field does not hide the next;
    everything else (and the whole, once its parts pass) is left to ``msgspec.convert``, so the
    rules applied are exactly the ones the fast path enforces.
    """
    problems: list[FieldProblem] = []
    struct = _struct_type(annotation)
    if struct is not None and isinstance(value, dict):
        fields = msgspec.structs.fields(struct)
        known = {f.encode_name for f in fields}
        if struct.__struct_config__.forbid_unknown_fields:
            problems.extend(
                FieldProblem(pointer=f"{pointer}/{escape(str(k))}", code="unknown_field", detail="is not a known field")
                for k in value
                if k not in known
            )
        for f in fields:
            if f.encode_name in value:
                problems.extend(collect_problems(value[f.encode_name], f.type, f"{pointer}/{escape(f.encode_name)}"))
            elif f.required:
                problems.append(
                    FieldProblem(pointer=f"{pointer}/{escape(f.encode_name)}", code="required", detail="is required")
                )
    elif (item := _item_type(annotation)) is not None and isinstance(value, list):
        for index, element in enumerate(value):
            problems.extend(collect_problems(element, item, f"{pointer}/{index}"))
    if problems:
        return problems
    try:
        msgspec.convert(value, annotation, strict=True)
    except msgspec.ValidationError as exc:
        return [from_msgspec(exc, pointer)]
    return []


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
            problems.append(FieldProblem(pointer=pointer, code=_code(message), detail=message))
        else:
            problems.append(FieldProblem(parameter=key, code=_code(message), detail=message))
    return problems
