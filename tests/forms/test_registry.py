"""Every field type of the schema language has exactly one component, and vice versa."""

from __future__ import annotations

import typing

import pytest

from forms import default_components
from forms.components.text import Text
from forms.schema import FieldSpec


def test_registry_covers_the_schema_language() -> None:
    tags = {member.__struct_config__.tag for member in typing.get_args(FieldSpec)}
    assert default_components().tags() == tags


def test_duplicate_registration_is_refused() -> None:
    registry = default_components()
    with pytest.raises(ValueError, match="already registered"):
        registry.add(Text())
