"""Conditions (``visible_if``, ``required_if``): checked, evaluated and exported, never ``eval``-ed.

A condition names fields by id. Inside a group it may name a sibling in the same item (local) or a
top-level field; the evaluator receives one getter for each scope and the compiler decides, once,
which one each name reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

import msgspec

from forms.errors import FieldError
from forms.schema import Condition, Scalar

Getter = Callable[[str], Any]
#: ``evaluate(local_object, top_object)``: the object holding the field, and the answers object.
Evaluator = Callable[[Any, Any], bool]
MISSING: Final = msgspec.UNSET

_LEAF_OPERATORS: Final = ("equals", "not_equals", "in_", "present")
_COMBINATORS: Final = ("all", "any", "not_")


def _set(cond: Condition, names: tuple[str, ...]) -> list[str]:
    return [n for n in names if getattr(cond, n) is not None]


def structure_errors(cond: Condition, pointer: str) -> list[FieldError]:
    """A condition is either ``field`` with exactly one operator, or exactly one combinator."""
    leaves, combinators = _set(cond, _LEAF_OPERATORS), _set(cond, _COMBINATORS)
    if cond.field is not None:
        if len(leaves) != 1 or combinators:
            return [
                FieldError(
                    pointer=pointer,
                    code="condition",
                    detail="a condition on a field takes exactly one of equals, not_equals, in, present",
                )
            ]
        return []
    if len(combinators) != 1 or leaves:
        return [
            FieldError(
                pointer=pointer,
                code="condition",
                detail="a condition is {field, <operator>} or exactly one of all, any, not",
            )
        ]
    errors: list[FieldError] = []
    for child_pointer, child in children(cond, pointer):
        errors.extend(structure_errors(child, child_pointer))
    return errors


def children(cond: Condition, pointer: str) -> Iterator[tuple[str, Condition]]:
    for name, key in (("all", "all"), ("any", "any")):
        for index, child in enumerate(getattr(cond, name) or ()):
            yield f"{pointer}/{key}/{index}", child
    if cond.not_ is not None:
        yield f"{pointer}/not", cond.not_


def references(cond: Condition, pointer: str) -> Iterator[tuple[str, str]]:
    """Every field a condition names, with the pointer to where it is named."""
    if cond.field is not None:
        yield f"{pointer}/field", cond.field
    for child_pointer, child in children(cond, pointer):
        yield from references(child, child_pointer)


def same(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` (Python says it is), ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


def _contains(value: Any, wanted: Scalar) -> bool:
    if isinstance(value, list):
        return any(same(item, wanted) for item in value)
    return same(value, wanted)


Locate = Callable[[str], tuple[bool, str, Callable[[Scalar], Any]]]


def compile_condition(cond: Condition, locate: Locate, read: Callable[[Any, str], Any]) -> Evaluator:
    """A closure over the condition tree, called as ``evaluate(local_object, top_object)``.

    ``locate(name)`` says, once at compile time, whether a name is a sibling (local), under which
    key to read it, and how to turn a condition's value into what that read returns (a date field
    decoded by msgspec holds a ``date``); ``read`` is ``getattr`` for decoded Structs (the fast
    path) or a dict lookup for plain JSON (the collecting path), so both paths share one meaning.
    """
    if cond.field is not None:
        local, key, coerce = locate(cond.field)
        if cond.present is not None:
            wanted = cond.present
            return lambda lo, to: (read(lo if local else to, key) is not MISSING) is wanted
        if cond.in_ is not None:
            options = tuple(coerce(v) for v in cond.in_)
            return lambda lo, to: (
                (v := read(lo if local else to, key)) is not MISSING and any(_contains(v, o) for o in options)
            )
        if cond.not_equals is not None:
            other = coerce(cond.not_equals)
            return lambda lo, to: (v := read(lo if local else to, key)) is MISSING or not _contains(v, other)
        assert cond.equals is not None  # structure_errors guarantees exactly one operator: this one
        target = coerce(cond.equals)
        if isinstance(target, str):
            # The common case, specialised: a string never equals a bool, so == is JSON equality here.
            return lambda lo, to: (
                (v := read(lo if local else to, key)) == target or (v.__class__ is list and target in v)
            )
        if isinstance(target, bool):
            return lambda lo, to: read(lo if local else to, key) is target
        return lambda lo, to: (v := read(lo if local else to, key)) is not MISSING and _contains(v, target)
    if cond.all is not None:
        parts = [compile_condition(c, locate, read) for c in cond.all]
        return lambda lo, to: all(p(lo, to) for p in parts)
    if cond.any is not None:
        parts = [compile_condition(c, locate, read) for c in cond.any]
        return lambda lo, to: any(p(lo, to) for p in parts)
    assert cond.not_ is not None  # structure_errors guarantees one operator
    inner = compile_condition(cond.not_, locate, read)
    return lambda lo, to: not inner(lo, to)


def as_is(value: Scalar) -> Any:
    return value


def read_json(container: Any, key: str) -> Any:
    """``read`` for plain decoded JSON objects."""
    return container.get(key, MISSING)


def to_json_schema(cond: Condition, is_list: Callable[[str], bool]) -> dict[str, Any]:
    """The condition as a JSON Schema that holds for the object containing the named fields."""
    if cond.field is not None:
        name = cond.field
        if cond.present is not None:
            present = {"required": [name]}
            return present if cond.present else {"not": present}

        def matches(value: Scalar) -> dict[str, Any]:
            test = {"contains": {"const": value}} if is_list(name) else {"const": value}
            return {"properties": {name: test}, "required": [name]}

        if cond.in_ is not None:
            return {"anyOf": [matches(v) for v in cond.in_]}
        if cond.not_equals is not None:
            return {"not": matches(cond.not_equals)}
        assert cond.equals is not None  # structure_errors guarantees exactly one operator: this one
        return matches(cond.equals)
    if cond.all is not None:
        return {"allOf": [to_json_schema(c, is_list) for c in cond.all]}
    if cond.any is not None:
        return {"anyOf": [to_json_schema(c, is_list) for c in cond.any]}
    assert cond.not_ is not None
    return {"not": to_json_schema(cond.not_, is_list)}
