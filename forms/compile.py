"""Compile a form version once: a msgspec type for the fast path, the rules and conditions beside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

import msgspec

from forms.checks import check_schema
from forms.components.base import SHA256_PATTERN, Component, anchored, meta, no_lookup
from forms.components.registry import ComponentRegistry
from forms.conditions import MISSING, Locate, as_is, compile_condition, read_json
from forms.errors import FieldError, SchemaInvalid
from forms.schema import DateField, FieldSpec, FormSchema, GroupField
from forms.validate import collect_document

NONCE_PATTERN: Final = anchored("[A-Za-z0-9_-]{16,128}")
UUID_PATTERN: Final = anchored("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NONCE = Annotated[str, msgspec.Meta(pattern=NONCE_PATTERN)]
SHA256_HEX = Annotated[str, msgspec.Meta(pattern=SHA256_PATTERN)]
UUID_TEXT = Annotated[str, msgspec.Meta(pattern=UUID_PATTERN)]

Check = Callable[[Any, Any], bool]


class Amends(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """In an amended document: which submission it corrects, and the hash of that one's bytes."""

    submission_id: UUID_TEXT
    document_sha256: SHA256_HEX


class CompiledField:
    """One field with everything decided at compile time.

    ``visible`` and ``required_if`` read plain JSON objects (the collecting path); the fast path has
    its own closures over the decoded Structs, built by ``CompiledScope``.
    """

    __slots__ = (
        "annotation",
        "attr",
        "component",
        "group",
        "has_rules",
        "is_string",
        "required_if",
        "spec",
        "visible",
    )

    def __init__(
        self,
        spec: FieldSpec,
        component: Component[Any],
        attr: str,
        group: CompiledScope | None,
        locate_id: Locate,
        annotation: Any,
    ) -> None:
        self.spec = spec
        self.annotation = annotation
        self.component = component
        self.attr = attr
        self.group = group
        self.has_rules = component.has_rules(spec)
        self.is_string = component.is_string
        self.visible = compile_condition(spec.visible_if, locate_id, read_json) if spec.visible_if else None
        self.required_if = compile_condition(spec.required_if, locate_id, read_json) if spec.required_if else None

    def required(self, local: Any, top: Any) -> bool:
        return self.spec.required or (self.required_if is not None and self.required_if(local, top))


class CompiledScope:
    """The fields of one object level: the answers, or one group's item."""

    #: The msgspec type of the level (built with ``defstruct``), the fast path's decoder type.
    struct: type[msgspec.Struct]

    def __init__(
        self,
        specs: list[FieldSpec],
        registry: ComponentRegistry,
        name: str,
        top: CompiledScope | None,
    ) -> None:
        self.attrs = {spec.id: f"f{index}" for index, spec in enumerate(specs)}
        self.specs = {spec.id: spec for spec in specs}
        outer_attrs = top.attrs if top is not None else self.attrs
        outer_specs = top.specs if top is not None else self.specs

        def locate_id(field_id: str) -> tuple[bool, str, Callable[[Any], Any]]:
            return field_id in self.attrs, field_id, as_is

        def locate_attr(field_id: str) -> tuple[bool, str, Callable[[Any], Any]]:
            local = field_id in self.attrs
            spec = (self.specs if local else outer_specs)[field_id]
            # msgspec decodes date answers to ``date``: compare with dates, not their spelling.
            coerce = dt.date.fromisoformat if isinstance(spec, DateField) else as_is
            return local, self.attrs[field_id] if local else outer_attrs[field_id], coerce

        self.fields: list[CompiledField] = []
        struct_fields: list[Any] = []
        for spec in specs:
            component = registry.for_spec(spec)
            group: CompiledScope | None = None
            annotation: Any
            if isinstance(spec, GroupField):
                group = CompiledScope(spec.fields, registry, f"{name}_{spec.id}", top or self)
                item: Any = group.struct  # a type built at run time (defstruct)
                annotation = Annotated[list[item], meta(min_length=spec.min_items, max_length=spec.max_items)]
            else:
                annotation = component.annotation(spec)
            f = CompiledField(spec, component, self.attrs[spec.id], group, locate_id, annotation)
            self.fields.append(f)
            required = spec.required and spec.visible_if is None
            default = msgspec.field(name=spec.id) if required else msgspec.field(default=MISSING, name=spec.id)
            struct_fields.append((f.attr, annotation, default))
        self.by_id = {f.spec.id: f for f in self.fields}
        self.struct = msgspec.defstruct(name, struct_fields, forbid_unknown_fields=True, kw_only=True)
        # Two lists of fast checks: without and with the rules that only newlines can break.
        self.checks = {
            newlines: [
                c for f in self.fields if (c := self._fast_check(f, locate_attr, outer_attrs, newlines)) is not None
            ]
            for newlines in (False, True)
        }

    def _fast_check(self, f: CompiledField, locate: Any, top_attrs: dict[str, str], newlines: bool) -> Check | None:
        """A closure checking what msgspec could not for one field of a decoded Struct, or None."""
        spec, component, attr, is_string, required = f.spec, f.component, f.attr, f.is_string, f.spec.required
        visible = compile_condition(spec.visible_if, locate, getattr) if spec.visible_if else None
        required_if = compile_condition(spec.required_if, locate, getattr) if spec.required_if else None
        rules = component.rules if f.has_rules and (newlines or not component.only_newline_rules(spec)) else None
        group_checks = f.group.checks[newlines] if f.group is not None else []
        if visible is None and required_if is None and rules is None and not group_checks:
            return None
        local_attrs = self.attrs
        reads_fields = rules is not None and component.reads_fields(spec)

        def check(obj: Any, top: Any) -> bool:
            value = getattr(obj, attr)
            if visible is not None and not visible(obj, top):
                return value is MISSING
            if value is MISSING or (is_string and value == ""):
                if required or (required_if is not None and required_if(obj, top)):
                    return False
                if value is MISSING:
                    return True
            if rules is not None:
                lookup = no_lookup
                if reads_fields:

                    def lookup(name: str) -> Any:
                        return getattr(obj, local_attrs[name]) if name in local_attrs else getattr(top, top_attrs[name])

                if rules(spec, value, "", lookup):
                    return False
            return all(c(item, top) for item in value for c in group_checks) if group_checks else True

        return check


class CompiledForm:
    """A form version ready to validate documents; build it once and cache it (it is immutable)."""

    def __init__(self, schema: FormSchema, version: int, registry: ComponentRegistry) -> None:
        if errors := check_schema(schema, registry):
            raise SchemaInvalid(errors)
        self.schema = schema
        self.version = version
        self.answers = CompiledScope(schema.fields(), registry, "Answers", None)
        self.document_type = msgspec.defstruct(
            "Document",
            [
                ("form_id", Literal[schema.id]),
                ("form_version", Literal[version]),
                ("answers", self.answers.struct),
                ("nonce", NONCE, MISSING),
                ("amends", Amends, MISSING),
            ],
            forbid_unknown_fields=True,
            kw_only=True,
        )
        self._decoder = msgspec.json.Decoder(self.document_type)
        self._builtins = msgspec.json.Decoder()

    def validate(self, raw: bytes) -> list[FieldError]:
        """Every problem in the document bytes; ``[]`` when valid.

        Valid documents cost one msgspec decode plus the few checks msgspec cannot do; only a
        failing document is decoded again and walked to collect every error.
        """
        try:
            document: Any = self._decoder.decode(raw)
        except msgspec.ValidationError:
            return self.collect(self._builtins.decode(raw))
        except msgspec.DecodeError as exc:
            return [FieldError(pointer="", code="malformed", detail=f"not valid JSON: {exc}")]
        answers = document.answers
        # In JSON a newline inside a string is always escaped, so bytes without a backslash hold
        # none, and the single-line rules can be skipped (one memchr instead of a check per field).
        checks = self.answers.checks[b"\\" in raw]
        for check in checks:
            if not check(answers, answers):
                return self.collect(self._builtins.decode(raw))
        return []

    def collect(self, document: Any) -> list[FieldError]:
        """The slow path on decoded JSON: walk everything and report every error."""
        return collect_document(self, document)

    def decode(self, raw: bytes) -> Any:
        """The typed document, for callers that have already validated it."""
        return self._decoder.decode(raw)
