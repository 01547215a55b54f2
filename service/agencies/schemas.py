"""Wire types for agencies."""

from __future__ import annotations

from typing import Annotated

import msgspec

from service.auth.schemas import AgencyCode

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class AgencyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: AgencyCode
    name_ja: Name
    name_en: Name


class AgencyOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name_ja: str
    name_en: str
