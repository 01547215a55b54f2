"""Wire and domain types for authentication."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Final, Literal

import msgspec

Role = Literal["admin", "agency-admin", "clerk"]
#: What a token may do beyond its role, each granted explicitly. ``my_number:read``: reveal a 個人番号 of
#: the token's agency in full (with a reason, on the audit trail); without it every view is masked.
Permission = Literal["my_number:read"]
MY_NUMBER_READ: Final = "my_number:read"
AgencyCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9-]{1,31}$")]


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: a token's role and, for agency roles, the one agency it acts for."""

    token_id: uuid.UUID
    role: Role
    agency_code: str | None
    permissions: frozenset[str] = frozenset()
    """Granted on the token (console sessions inherit their token's)."""

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions

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
    permissions: Annotated[list[Permission], msgspec.Meta(max_length=10)] = []


class TokenOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    role: Role
    agency: str | None
    name: str
    permissions: list[str] = []
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class IssuedToken(msgspec.Struct, frozen=True, kw_only=True):
    """The one response that carries the secret; it is not retrievable again."""

    token: str
    info: TokenOut
