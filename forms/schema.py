"""The schema language agencies write: a form, its sections, and one Struct per field type."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Union

import msgspec

Ident = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,62}$(?!\n)")]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$(?!\n)", max_length=80)]
Scalar = str | int | float | bool
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
MediaTypeName = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$(?!\n)", max_length=100)
]

#: Ceiling on an attachment field's ``max_bytes``; the service's upload limit may be lower.
MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024


class Spec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of schema Structs: defaults are omitted, so canonical bytes do not depend on them."""


class Text(Spec, kw_only=True, frozen=True):
    """A bilingual string; Japanese is the language of record, English optional."""

    ja: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    en: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)] | None = None


class Condition(Spec, kw_only=True, frozen=True):
    """Data, never code: ``{field, equals|not_equals|in|present}`` or ``{all|any: [...]}`` / ``{not: ...}``."""

    field: Ident | None = None
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    in_: Annotated[list[Scalar], msgspec.Meta(min_length=1, max_length=200)] | None = msgspec.field(
        default=None, name="in"
    )
    present: bool | None = None
    all: Annotated[list[Condition], msgspec.Meta(min_length=1, max_length=20)] | None = None
    any: Annotated[list[Condition], msgspec.Meta(min_length=1, max_length=20)] | None = None
    not_: Condition | None = msgspec.field(default=None, name="not")


class FieldBase(Spec, tag_field="type", kw_only=True, frozen=True):
    id: Ident
    label: Text
    help: Text | None = None
    required: bool = False
    visible_if: Condition | None = None
    required_if: Condition | None = None
    binds: Literal["signer.name", "signer.birth_date", "signer.address"] | None = None
    """The answer should match what the signer's certificate says (JPKI); a mismatch is flagged, not refused."""


class TextField(FieldBase, tag="text", kw_only=True, frozen=True):
    min_length: NonNegative | None = None
    max_length: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    pattern: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    multiline: bool = False


class IntegerField(FieldBase, tag="integer", kw_only=True, frozen=True):
    min: int | None = None
    max: int | None = None


class DecimalField(FieldBase, tag="decimal", kw_only=True, frozen=True):
    min: float | None = None
    max: float | None = None


class BooleanField(FieldBase, tag="boolean", kw_only=True, frozen=True):
    pass


class DateField(FieldBase, tag="date", kw_only=True, frozen=True):
    min: dt.date | None = None
    max: dt.date | None = None
    min_field: Ident | None = None
    max_field: Ident | None = None


class Option(Spec, kw_only=True, frozen=True):
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    label: Text


Options = Annotated[list[Option], msgspec.Meta(min_length=1, max_length=500)]


class ChoiceField(FieldBase, tag="choice", kw_only=True, frozen=True):
    options: Options


class MultiChoiceField(FieldBase, tag="multi_choice", kw_only=True, frozen=True):
    options: Options
    min_items: NonNegative | None = None
    max_items: Annotated[int, msgspec.Meta(ge=1)] | None = None


class EmailField(FieldBase, tag="email", kw_only=True, frozen=True):
    pass


class PhoneField(FieldBase, tag="phone", kw_only=True, frozen=True):
    pass


class PostalCodeField(FieldBase, tag="postal_code", kw_only=True, frozen=True):
    pass


class PrefectureField(FieldBase, tag="prefecture", kw_only=True, frozen=True):
    pass


class CorporateNumberField(FieldBase, tag="corporate_number", kw_only=True, frozen=True):
    pass


class MyNumberField(FieldBase, tag="my_number", kw_only=True, frozen=True):
    """個人番号 (特定個人情報): publishable only for a procedure whose catalogue entry allows collecting it."""


class KanaField(FieldBase, tag="kana", kw_only=True, frozen=True):
    min_length: NonNegative | None = None
    max_length: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None


class AttachmentField(FieldBase, tag="attachment", kw_only=True, frozen=True):
    media_types: Annotated[list[MediaTypeName], msgspec.Meta(min_length=1, max_length=20)]
    max_bytes: Annotated[int, msgspec.Meta(ge=1, le=MAX_ATTACHMENT_BYTES)]


class GroupField(FieldBase, tag="group", kw_only=True, frozen=True):
    """A repeating list of items; each item is an object of the sub-fields."""

    fields: Annotated[list[FieldSpec], msgspec.Meta(min_length=1, max_length=100)]
    min_items: NonNegative | None = None
    max_items: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None


FieldSpec = Union[  # noqa: UP007 - msgspec resolves this forward reference by name
    TextField,
    IntegerField,
    DecimalField,
    BooleanField,
    DateField,
    ChoiceField,
    MultiChoiceField,
    EmailField,
    PhoneField,
    PostalCodeField,
    PrefectureField,
    CorporateNumberField,
    MyNumberField,
    KanaField,
    AttachmentField,
    GroupField,
]


class Section(Spec, kw_only=True, frozen=True):
    """Presentation only: field ids share one namespace across every section of a form."""

    id: Ident
    title: Text
    fields: Annotated[list[FieldSpec], msgspec.Meta(min_length=1, max_length=500)]


CertificateClass = Literal["jpki", "corporate", "accredited"]


class SignaturePolicy(Spec, kw_only=True, frozen=True):
    accept: Annotated[list[CertificateClass], msgspec.Meta(min_length=1, max_length=3)]
    signers: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1


class FormSchema(Spec, kw_only=True, frozen=True):
    id: Slug
    procedure: Slug
    title: Text
    description: Text | None = None
    signature: SignaturePolicy | None = None
    sections: Annotated[list[Section], msgspec.Meta(min_length=1, max_length=100)]

    def fields(self) -> list[FieldSpec]:
        """Top-level fields in document order, across sections."""
        return [f for section in self.sections for f in section.fields]
