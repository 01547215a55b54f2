"""Forms: the schema language agencies write, immutable versions, and answer validation.

A library: it knows nothing of HTTP or the database. ``parse_schema`` checks a schema document,
``CompiledForm`` validates answers against one version, ``json_schema`` exports it.
"""

from forms.checks import decode_document, parse_schema
from forms.compile import CompiledForm
from forms.components.registry import ComponentRegistry, default_components
from forms.errors import FieldError, SchemaInvalid
from forms.export import json_schema
from forms.limits import MAX_DEPTH, LimitError, check_json
from forms.schema import FormSchema
from forms.versioning import VersionDiff, canonical_bytes, diff, fingerprint

__all__ = [
    "MAX_DEPTH",
    "CompiledForm",
    "ComponentRegistry",
    "FieldError",
    "FormSchema",
    "LimitError",
    "SchemaInvalid",
    "VersionDiff",
    "canonical_bytes",
    "check_json",
    "decode_document",
    "default_components",
    "diff",
    "fingerprint",
    "json_schema",
    "parse_schema",
]
