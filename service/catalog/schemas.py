"""Wire types for the procedure catalogue."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from service.agencies.schemas import AgencyIn, Revocation
from service.auth.schemas import AgencyCode
from service.retention.schemas import RetentionRule
from signing.jpki import Profession

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]
Seal = Literal["none", "ordinary", "registered"]
Requirement = Literal["paper", "seal", "in_person"]
SignatureLevel = Literal["any-trusted", "qualified"]


class LegacyRequirements(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the paper procedure demanded: a written form (書面), a seal (押印), a visit (対面).

    ``seal`` is ``registered`` where the seal had to be the registered one (実印) with its
    certificate (印鑑証明書), ``ordinary`` for any seal (認印).
    """

    paper: bool
    seal: Seal
    in_person: bool


class ReformStatus(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    status: Literal["abolished", "retained", "pending"]
    effective: dt.date | None = None
    note: Note = ""


class ProxyRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who may file on the applicant's behalf (代理申請・提出代行)."""

    mandate: bool = False
    """Anyone the applicant mandates, with the applicant's signed mandate (委任状)."""
    professions: Annotated[list[Profession], msgspec.Meta(max_length=4)] = []
    """Licensed professionals who may file with a signed statement instead (提出代行): 社会保険労務士,
    行政書士, 税理士, 司法書士, each trusted through their association's CA (a trust class of its own)."""


class MyNumberRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Whether the procedure may collect 個人番号 (特定個人情報), under which provision, and for how long.

    The My Number Act allows collecting it only for the uses its 別表 and an agency's ordinances name;
    ``basis`` is that provision, on record. A form with a ``my_number`` field is published only for a
    procedure whose rule is ``allowed``.
    """

    allowed: bool
    basis: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None = None
    """The legal basis (e.g. 番号法第9条第1項 別表第一の五十七の項); required when ``allowed``."""
    retain_days: Annotated[int, msgspec.Meta(ge=1, le=36_500)] | None = None
    """Days after receipt after which the number alone is purged, the application and its audit trail
    kept; unset: kept as long as the application."""

    def __post_init__(self) -> None:
        if self.allowed and self.basis is None:
            raise ValueError("basis is required when allowed is true (the provision that allows collecting it)")


class PolicyOverride(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An agency's decision to depart from the derived policy; the reason is kept on record."""

    signature: SignatureLevel
    identity_proofing: bool
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class DigitalPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Which certificates count for this procedure. Every submission is signed either way."""

    signature: SignatureLevel
    identity_proofing: bool
    source: Literal["derived", "override"]
    reason: str | None = None


class ProcedureIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: Slug
    agency: AgencyCode
    name_ja: Name
    name_en: Name
    legal_basis: Annotated[str, msgspec.Meta(max_length=500)]
    legacy: LegacyRequirements
    reform: ReformStatus
    policy_override: PolicyOverride | None = None
    revocation: Revocation | None = None
    """Unset: the agency's rule."""
    proxy: ProxyRule | None = None
    """Unset: only the applicant files."""
    retention: RetentionRule | None = None
    """How long an application is kept, as its legal basis or the agency's retention schedule sets it
    (保存期間); unset: the agency's rule."""
    my_number: MyNumberRule | None = None
    """Unset: forms of this procedure may not ask for 個人番号."""


class ProcedureOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    agency: str
    name_ja: str
    name_en: str
    legal_basis: str
    legacy: LegacyRequirements
    reform: ReformStatus
    digital_policy: DigitalPolicy
    revocation: Revocation | None
    """What an approval needs of revocation data; unset: the agency's rule (``current`` by default)."""
    proxy: ProxyRule | None
    """Who may file on the applicant's behalf; unset: only the applicant."""
    retention: RetentionRule | None = None
    """How long an application is kept once decided or received; unset: the agency's rule (five years
    from the decision unless the agency says otherwise)."""
    my_number: MyNumberRule | None = None
    """Whether (and under which legal basis) its forms may collect 個人番号; unset: they may not."""
    created_at: dt.datetime
    updated_at: dt.datetime


class CatalogFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The data file that ``shinsei catalog load`` reads (YAML or JSON)."""

    agencies: Annotated[list[AgencyIn], msgspec.Meta(max_length=1000)] = []
    procedures: Annotated[list[ProcedureIn], msgspec.Meta(max_length=20000)] = []
