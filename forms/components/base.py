"""What every field type supplies, and the defaults most of them share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final, Generic, TypeVar

import msgspec

from forms.errors import FieldError, collect_errors
from forms.schema import FieldBase

S = TypeVar("S", bound=FieldBase)
#: Reads another field's answer by id (sibling first, then top level); MISSING when unanswered.
Lookup = Callable[[str], Any]


def anchored(body: str) -> str:
    r"""A whole-string regex that behaves the same in Python ``re`` and ECMA-262 (JSON Schema).

    ``[0-9]`` rather than ``\d`` (Python's matches every Unicode digit), and ``$(?!\n)`` because
    Python's ``$`` also matches before a final newline, which would let ``"100-0001\n"`` through.
    """
    return f"^(?:{body})$(?!\\n)"


def meta(**constraints: Any) -> msgspec.Meta:
    return msgspec.Meta(**{k: v for k, v in constraints.items() if v is not None})


def json_constraints(**constraints: Any) -> dict[str, Any]:
    return {k: v for k, v in constraints.items() if v is not None}


SHA256_PATTERN: Final = anchored("[0-9a-f]{64}")


class Component(Generic[S]):
    """A field type. Subclasses set ``spec_type`` and override what differs.

    ``annotation`` is what msgspec enforces at C speed; ``rules`` is what it cannot (a check digit,
    an order between two dates), run on the fast path only for fields that ``has_rules``; ``check``
    is the complete, collecting check of one present answer, used only when something failed.
    """

    spec_type: ClassVar[type[FieldBase]]
    #: Values are strings, so an empty string counts as unanswered for ``required``.
    is_string: ClassVar[bool] = True
    #: Values are lists (conditions then test membership).
    is_list: ClassVar[bool] = False
    #: Its ``rules`` can only fail on a string holding a newline (skipped when the bytes have none).
    newline_rules: ClassVar[bool] = False
    #: What a failed pattern means, in words (msgspec's message quotes the regex).
    pattern_hint: ClassVar[str | None] = None

    @property
    def tag(self) -> str:
        tag = self.spec_type.__struct_config__.tag
        assert isinstance(tag, str)
        return tag

    def annotation(self, spec: S) -> Any:
        raise NotImplementedError

    def json_schema(self, spec: S) -> dict[str, Any]:
        raise NotImplementedError

    def has_rules(self, spec: S) -> bool:
        return False

    def only_newline_rules(self, spec: S) -> bool:
        """Whether ``rules`` can fail only on a string holding a newline (``newline_rules``, per spec)."""
        return self.newline_rules

    def reads_fields(self, spec: S) -> bool:
        """Whether ``rules`` consults other answers through its ``lookup`` argument."""
        return False

    def rules(self, spec: S, value: Any, pointer: str, lookup: Lookup) -> list[FieldError]:
        return []

    def check(self, spec: S, value: Any, pointer: str, lookup: Lookup, annotation: Any = None) -> list[FieldError]:
        """Every problem with one present answer; ``annotation`` is ``self.annotation(spec)``, precomputed.

        (A fresh ``Annotated`` type per call would miss msgspec's per-type cache: 50x slower.)
        """
        errors = collect_errors(value, annotation if annotation is not None else self.annotation(spec), pointer)
        if self.pattern_hint is not None:
            errors = [
                FieldError(pointer=e.pointer, code=e.code, detail=self.pattern_hint)
                if e.code == "pattern" and e.pointer == pointer
                else e
                for e in errors
            ]
        if errors or not self.has_rules(spec):
            return errors
        return self.rules(spec, value, pointer, lookup)

    def schema_errors(self, spec: S, pointer: str) -> list[FieldError]:
        """Problems in the field's own definition (min above max, a bad regex, ...)."""
        return []

    def display(self, spec: S, value: Any) -> str:
        """The answer as a clerk or a receipt shows it."""
        return str(value)


def no_lookup(name: str) -> Any:
    raise LookupError(f"this field's rules read no other field ({name})")


def min_max_error(pointer: str, low: Any, high: Any, what: str = "min", other: str = "max") -> list[FieldError]:
    if low is not None and high is not None and low > high:
        return [FieldError(pointer=f"{pointer}/{what}", code="min_max", detail=f"{what} is greater than {other}")]
    return []
