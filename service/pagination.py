"""Keyset pagination: every list answers ``{"items": [...], "next_cursor": ...}``."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Final, Generic, TypeVar

import msgspec
from litestar.params import PathParameter, QueryParameter

from service.problems import InvalidParameter
from service.validation import FieldProblem

T = TypeVar("T")

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200
_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(list[Any])

#: PostgreSQL ``integer`` (int4): a path number above it names nothing, and must not reach a query.
INT4_MAX: Final = 2_147_483_647
VersionNumber = Annotated[int, PathParameter(ge=1, le=INT4_MAX, description="A form version number (1, 2, ...).")]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}.")]
Cursor = Annotated[str | None, QueryParameter(max_length=512, description="The `next_cursor` of the previous page.")]


class Page(msgspec.Struct, Generic[T], frozen=True):
    items: list[T]
    next_cursor: str | None


def encode_cursor(*key: Any) -> str:
    """An opaque cursor holding the sort key of the last item served."""
    return base64.urlsafe_b64encode(_encoder.encode(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str | None, *types: type) -> tuple[Any, ...] | None:
    """The sort key in a cursor, typed; a cursor not made by us is a 400, not a 500."""
    if not cursor:
        return None  # an empty ``cursor=`` is a client's way of saying "from the start"
    try:
        raw = _decoder.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if len(raw) != len(types):
            raise ValueError("wrong arity")
        return tuple(msgspec.convert(v, t, strict=False) for v, t in zip(raw, types, strict=True))
    except (ValueError, binascii.Error, msgspec.DecodeError, msgspec.ValidationError):
        raise InvalidParameter(
            "The cursor is not one this server issued; start again without it.",
            errors=[FieldProblem(parameter="cursor", code="invalid", detail="is not a valid cursor")],
        ) from None


def page(rows: list[T], limit: int, key: Any) -> Page[T]:
    """Cut a page from ``limit + 1`` fetched rows; the extra row only says that more exist."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, encode_cursor(*key(rows[-1])))
    return Page(rows, None)
