"""Catalogue and form files as the CLI reads them: every problem listed, not the first."""

from __future__ import annotations

from importlib.resources.abc import Traversable

import msgspec

import forms
from service.catalog.schemas import CatalogFile
from service.cli.common import CommandError
from service.validation import collect_problems


def read_catalog(path: Traversable) -> CatalogFile:
    """Parse a catalogue file (YAML or JSON), listing every problem in it rather than the first."""
    raw = path.read_bytes()
    try:
        data = msgspec.yaml.decode(raw)  # YAML is a superset of JSON
    except msgspec.DecodeError as exc:
        raise CommandError(f"{path}: not valid YAML or JSON: {exc}") from None
    problems = collect_problems(data, CatalogFile)
    if problems:
        lines = "\n".join(f"  {p.pointer or '/'}: {p.code}: {p.detail}" for p in problems)
        raise CommandError(f"{path}: {len(problems)} problem(s):\n{lines}")
    return msgspec.convert(data, CatalogFile)


def read_form(path: Traversable, registry: forms.ComponentRegistry) -> forms.FormSchema:
    """A schema file (``.yaml``/``.yml`` or JSON), checked offline, listing every problem."""
    fmt: forms.checks.SchemaFormat = "yaml" if path.name.endswith((".yaml", ".yml")) else "json"
    try:
        schema = forms.parse_schema(forms.decode_document(path.read_bytes(), fmt), registry)
        forms.CompiledForm(schema, 1, registry)
    except forms.SchemaInvalid as exc:
        lines = "\n".join(f"  {e.pointer or '/'}: {e.code}: {e.detail}" for e in exc.errors)
        raise CommandError(f"{path}: {len(exc.errors)} problem(s):\n{lines}") from None
    return schema
