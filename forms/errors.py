"""Errors as data: one ``FieldError`` per offending field, with an RFC 6901 pointer.

msgspec stops at the first problem; ``collect_errors`` walks a decoded document against a msgspec
type and reports every one, applying exactly the rules msgspec itself applies.
"""

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
        (r"^Invalid value", "choice"),
        (r"^Invalid (RFC3339|ISO|date|time|datetime|UUID|uuid)", "format"),
        (r"^Expected `", "type"),
    )
)


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    """One problem: where (JSON pointer), what (stable code) and a sentence for a human."""

    pointer: str
    code: str
    detail: str


class SchemaInvalid(Exception):
    """A form schema that cannot be compiled; ``errors`` point into the schema document."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the form schema")
        self.errors = errors


def escape(token: str) -> str:
    """RFC 6901 escaping of one reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def code_for(message: str) -> str:
    for pattern, code in _CODES:
        if pattern.search(message):
            return code
    return "invalid"


def from_msgspec(error: msgspec.ValidationError, base: str = "") -> FieldError:
    """Turn msgspec's ``message - at `$.a[0].b``` into a pointer below ``base`` and a code."""
    message = str(error)
    pointer = base
    if match := _AT_PATH.search(message):
        message = message[: match.start()]
        for key, index in _PATH_PART.findall(match["path"]):
            pointer += "/" + escape(key or index)
    if field := re.search(r"field `([^`]+)`$", message):
        pointer += "/" + escape(field[1])
    return FieldError(pointer=pointer, code=code_for(message), detail=message)


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _struct_for(annotation: Any, value: dict[str, Any]) -> type[msgspec.Struct] | None:
    """The Struct that would decode ``value``: the only one, or the one its tag selects."""
    structs = [m for m in _union_members(_unwrap(annotation)) if isinstance(m, type) and issubclass(m, msgspec.Struct)]
    if len(structs) == 1 and structs[0].__struct_config__.tag is None:
        return structs[0]
    for struct in structs:
        config = struct.__struct_config__
        if config.tag_field is not None and value.get(config.tag_field) == config.tag:
            return struct
    return None


def _item_type(annotation: Any) -> Any | None:
    for member in _union_members(_unwrap(annotation)):
        if typing.get_origin(member) in (list, tuple, set, frozenset, Sequence):
            args = typing.get_args(member)
            if args and (len(args) == 1 or args[1] is Ellipsis):
                return args[0]
    return None


def collect_errors(value: Any, annotation: Any, pointer: str = "") -> list[FieldError]:
    """Check decoded JSON ``value`` against ``annotation``; return every error, not only the first.

    Structs (including tagged unions, by their tag) and lists are walked member by member so one bad
    field does not hide the next; everything else, and each whole once its parts pass, goes to
    ``msgspec.convert``, so the rules are exactly the ones the fast path enforces.
    """
    try:
        msgspec.convert(value, annotation, strict=True)
    except msgspec.ValidationError as exc:
        first = from_msgspec(exc, pointer)
    else:
        return []  # the common case, at C speed: nothing to walk
    errors: list[FieldError] = []
    struct = _struct_for(annotation, value) if isinstance(value, dict) else None
    if struct is not None:
        fields = msgspec.structs.fields(struct)
        known = {f.encode_name for f in fields}
        tag_field = struct.__struct_config__.tag_field
        if struct.__struct_config__.forbid_unknown_fields:
            errors.extend(
                FieldError(pointer=f"{pointer}/{escape(str(k))}", code="unknown_field", detail="is not a known field")
                for k in value
                if k not in known and k != tag_field
            )
        for f in fields:
            if f.encode_name in value:
                errors.extend(collect_errors(value[f.encode_name], f.type, f"{pointer}/{escape(f.encode_name)}"))
            elif f.required:
                errors.append(
                    FieldError(pointer=f"{pointer}/{escape(f.encode_name)}", code="required", detail="is required")
                )
    elif (item := _item_type(annotation)) is not None and isinstance(value, list):
        for index, element in enumerate(value):
            errors.extend(collect_errors(element, item, f"{pointer}/{index}"))
    # Members all passed but the whole did not (a list's length, a tagged union's tag): msgspec's word.
    return errors or [first]
