"""Wire types for agencies."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from service.auth.schemas import AgencyCode
from service.retention.schemas import AGENCY_DEFAULT, RetentionRule

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
#: What revocation data an approval needs. ``current``: data current when the signature is checked
#: (EN 319 102-1's default). ``confirmed``: data issued after the signature was made (intake asks the
#: anchor's OCSP responder at once; without an answer the application waits for the next CRL).
Revocation = Literal["current", "confirmed"]


class AgencyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: AgencyCode
    name_ja: Name
    name_en: Name
    revocation: Revocation = "current"
    """The agency's rule for its procedures that set none (see ``Revocation``)."""
    retention: RetentionRule = AGENCY_DEFAULT
    """How long its procedures that set none keep an application (its 行政文書管理規則's schedule)."""


class AgencyOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name_ja: str
    name_en: str
    revocation: Revocation = "current"
    retention: RetentionRule = AGENCY_DEFAULT
