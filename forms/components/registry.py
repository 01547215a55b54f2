"""The field-type registry: built explicitly, never filled by import side effects."""

from __future__ import annotations

from typing import Any

from forms.components.attachment import Attachment
from forms.components.base import Component
from forms.components.boolean import Boolean
from forms.components.choice import Choice
from forms.components.corporate_number import CorporateNumber
from forms.components.date import Date
from forms.components.decimal import Decimal
from forms.components.email import Email
from forms.components.group import Group
from forms.components.integer import Integer
from forms.components.kana import Kana
from forms.components.multi_choice import MultiChoice
from forms.components.my_number import MyNumber
from forms.components.phone import Phone
from forms.components.postal_code import PostalCode
from forms.components.prefecture import Prefecture
from forms.components.text import Text
from forms.schema import FieldBase


class ComponentRegistry:
    """Field types by tag. Tests and embedders build their own rather than patch a global."""

    def __init__(self) -> None:
        self._by_tag: dict[str, Component[Any]] = {}

    def add(self, component: Component[Any]) -> None:
        if component.tag in self._by_tag:
            raise ValueError(f"field type {component.tag!r} is already registered")
        self._by_tag[component.tag] = component

    def for_spec(self, spec: FieldBase) -> Component[Any]:
        tag = type(spec).__struct_config__.tag
        assert isinstance(tag, str)
        return self._by_tag[tag]

    def display(self, spec: FieldBase, value: Any) -> str:
        """An answer as text for people (the clerk's view, the console): the only way one becomes text."""
        return self.for_spec(spec).display(spec, value)

    def tags(self) -> frozenset[str]:
        return frozenset(self._by_tag)


def default_components() -> ComponentRegistry:
    registry = ComponentRegistry()
    for component in (
        Text(),
        Integer(),
        Decimal(),
        Boolean(),
        Date(),
        Choice(),
        MultiChoice(),
        Email(),
        Phone(),
        PostalCode(),
        Prefecture(),
        CorporateNumber(),
        MyNumber(),
        Kana(),
        Attachment(),
        Group(),
    ):
        registry.add(component)
    return registry
