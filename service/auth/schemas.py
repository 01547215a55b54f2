"""Wire and domain types for authentication."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

Role = Literal["admin", "agency-admin", "clerk"]
AgencyCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9-]{1,31}$")]


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: a token's role and, for agency roles, the one agency it acts for."""

    token_id: uuid.UUID
    role: Role
    agency_code: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def acts_for(self, agency_code: str) -> bool:
        """Admins act for every agency; agency roles only for their own."""
        return self.is_admin or self.agency_code == agency_code


class TokenIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: Role
    agency: AgencyCode | None = None
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class TokenOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    role: Role
    agency: str | None
    name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class IssuedToken(msgspec.Struct, frozen=True, kw_only=True):
    """The one response that carries the secret; it is not retrievable again."""

    token: str
    info: TokenOut
