"""Reading a schema document and checking it, reporting every problem with a pointer into it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

import msgspec
import yaml

from forms.components.registry import ComponentRegistry
from forms.conditions import children, references, structure_errors
from forms.errors import FieldError, SchemaInvalid, collect_errors
from forms.limits import MAX_DEPTH, LimitError, check_json
from forms.schema import Condition, DateField, FieldSpec, FormSchema, GroupField

SchemaFormat = Literal["json", "yaml"]


def decode_document(raw: bytes, fmt: SchemaFormat, max_depth: int = MAX_DEPTH) -> Any:
    """Bytes to plain data, within ``max_depth``. YAML anchors and aliases are refused: expanding them can explode.

    YAML's depth is followed on the event stream, which stops at the first level too deep:
    PyYAML's scanner grows quadratically slower with flow nesting, so it must not get far.
    """
    try:
        if fmt == "json":
            check_json(raw, max_depth)
            return msgspec.json.decode(raw)
        depth = 0
        for event in yaml.parse(raw.decode("utf-8"), Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise SchemaInvalid([FieldError(pointer="", code="yaml_alias", detail="YAML aliases are not allowed")])
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise LimitError("depth", f"nested more than {max_depth} levels deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return msgspec.yaml.decode(raw)
    except LimitError as exc:
        raise SchemaInvalid([FieldError(pointer="", code=exc.code, detail=exc.detail)]) from None
    except (msgspec.DecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SchemaInvalid(
            [FieldError(pointer="", code="malformed", detail=f"not valid {fmt.upper()}: {exc}")]
        ) from None


def parse_schema(data: Any, registry: ComponentRegistry) -> FormSchema:
    """Plain data to a checked ``FormSchema``; ``SchemaInvalid`` lists every problem otherwise."""
    errors = [
        FieldError(pointer=e.pointer, code="unknown_type", detail=f"{e.detail}: not a field type")
        if e.code == "choice" and e.pointer.endswith("/type") and "/fields/" in e.pointer
        else e
        for e in collect_errors(data, FormSchema)
    ]
    if errors:
        raise SchemaInvalid(errors)
    schema = msgspec.convert(data, FormSchema)
    if errors := check_schema(schema, registry):
        raise SchemaInvalid(errors)
    return schema


def _duplicates(items: Iterable[tuple[str, str]]) -> list[FieldError]:
    seen: set[str] = set()
    errors = []
    for pointer, ident in items:
        if ident in seen:
            errors.append(FieldError(pointer=pointer, code="duplicate", detail=f"id {ident!r} is already used"))
        seen.add(ident)
    return errors


def _condition_errors(
    cond: Condition | None, pointer: str, owner: str, local: dict[str, FieldSpec], top: dict[str, FieldSpec]
) -> list[FieldError]:
    if cond is None:
        return []
    errors = structure_errors(cond, pointer)
    for where, name in references(cond, pointer):
        if name == owner:
            errors.append(FieldError(pointer=where, code="condition_self", detail="a field cannot depend on itself"))
        elif name not in local and name not in top:
            errors.append(FieldError(pointer=where, code="unknown_field", detail=f"no field {name!r} to refer to"))
    errors += _date_operands(cond, pointer, local, top)
    return errors


def _date_operands(
    cond: Condition, pointer: str, local: dict[str, FieldSpec], top: dict[str, FieldSpec]
) -> list[FieldError]:
    """A condition on a date field compares with dates, so its values must be ``YYYY-MM-DD``."""
    if cond.field is None:
        return [e for where, child in children(cond, pointer) for e in _date_operands(child, where, local, top)]
    if not isinstance(local.get(cond.field) or top.get(cond.field), DateField):
        return []
    operands = [cond.equals, cond.not_equals, *(cond.in_ or ())]
    if all(v is None or (isinstance(v, str) and _is_date(v)) for v in operands):
        return []
    return [FieldError(pointer=pointer, code="condition", detail=f"{cond.field} is a date: compare it with YYYY-MM-DD")]


def _is_date(value: str) -> bool:
    try:
        msgspec.convert(value, dt.date)
    except msgspec.ValidationError:
        return False
    return True


def _field_errors(
    spec: FieldSpec, pointer: str, registry: ComponentRegistry, local: dict[str, FieldSpec], top: dict[str, FieldSpec]
) -> list[FieldError]:
    errors = registry.for_spec(spec).schema_errors(spec, pointer)
    errors += _condition_errors(spec.visible_if, f"{pointer}/visible_if", spec.id, local, top)
    errors += _condition_errors(spec.required_if, f"{pointer}/required_if", spec.id, local, top)
    if isinstance(spec, DateField):
        for key in ("min_field", "max_field"):
            other = getattr(spec, key)
            if other is None:
                continue
            target = local.get(other) or top.get(other)
            if target is None:
                errors.append(
                    FieldError(pointer=f"{pointer}/{key}", code="unknown_field", detail=f"no field {other!r}")
                )
            elif not isinstance(target, DateField) or other == spec.id:
                errors.append(
                    FieldError(
                        pointer=f"{pointer}/{key}", code="not_date", detail=f"{other!r} is not another date field"
                    )
                )
    return errors


def check_schema(schema: FormSchema, registry: ComponentRegistry) -> list[FieldError]:
    """Rules the types cannot carry: unique ids, known references, sane bounds."""
    errors = _duplicates((f"/sections/{i}/id", s.id) for i, s in enumerate(schema.sections))
    placed = [
        (f"/sections/{i}/fields/{j}", spec)
        for i, section in enumerate(schema.sections)
        for j, spec in enumerate(section.fields)
    ]
    errors += _duplicates((f"{p}/id", spec.id) for p, spec in placed)
    top = {spec.id: spec for _, spec in placed}
    if schema.signature is not None and len(set(schema.signature.accept)) != len(schema.signature.accept):
        errors.append(FieldError(pointer="/signature/accept", code="duplicate", detail="lists a class twice"))
    for pointer, spec in placed:
        errors += _field_errors(spec, pointer, registry, top, top)
        if isinstance(spec, GroupField):
            subs = {sub.id: sub for sub in spec.fields}
            errors += _duplicates((f"{pointer}/fields/{k}/id", sub.id) for k, sub in enumerate(spec.fields))
            for k, sub in enumerate(spec.fields):
                errors += _field_errors(sub, f"{pointer}/fields/{k}", registry, subs, top)
    return errors
