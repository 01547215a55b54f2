"""The mandate document (委任状) shinsei defines, and what clerks see of a filing on someone's behalf."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

from signing.jpki import Profession

PartyName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
ProcedureId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)]


class Party(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A person (name and birth date, as their My Number card states them) or a company (its name)."""

    name: PartyName
    birth_date: dt.date | None = None
    """Required for a person: matched with the JPKI certificate's date of birth."""
    address: Annotated[str, msgspec.Meta(max_length=300)] | None = None


class MandateDocument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """委任状: the principal authorises the agent to file these procedures within these dates.

    The principal signs its exact bytes (a detached CMS, JPKI or corporate certificate); the agent
    sends both with the application they sign (parts ``mandate`` and ``mandate_signature``).
    """

    kind: Literal["mandate"]
    principal: Party
    agent: Party
    procedures: Annotated[list[ProcedureId], msgspec.Meta(min_length=1, max_length=50)]
    valid_from: dt.date
    valid_until: dt.date
    date: dt.date
    """委任年月日: the day the mandate was given."""


class StatementDocument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """提出代行証明書: a licensed professional states that they file these procedures for this client.

    Signed by the professional with the certificate of their association's CA (a trust class per
    profession), the same certificate that signs the application; sent as parts ``statement`` and
    ``statement_signature``. The client is as the professional states them (their legal duty).
    """

    kind: Literal["filing_statement"]
    profession: Profession
    registration_number: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z-]{1,20}$")]
    agent: Party
    """The professional, as their certificate names them."""
    principal: Party
    """The client (a company or a person) the professional files for."""
    procedures: Annotated[list[ProcedureId], msgspec.Meta(min_length=1, max_length=50)]
    date: dt.date


class ProxyFilingOut(msgspec.Struct, frozen=True, kw_only=True):
    """In the review view: filed by the agent on behalf of the principal."""

    kind: Literal["mandate", "profession"]
    """``mandate``: with the principal's signed mandate; ``profession``: a professional's statement (提出代行)."""
    summary: str
    """"filed by 〇〇 (社会保険労務士) on behalf of △△", for people."""
    agent: dict[str, Any]
    """Who filed (signed the application), as their certificate says."""
    principal: dict[str, Any]
    """On whose behalf: as the mandate's signature says, or as the professional's statement does."""
    document: dict[str, Any]
    """The mandate or the statement, as signed."""
    document_sha256: str
    report: dict[str, Any]
    """The verification report of the mandate's or the statement's signature."""


class FiledOnBehalf(msgspec.Struct, frozen=True, kw_only=True):
    """In the applicant's views: who filed and for whom (names only: the clerk's view has the evidence)."""

    kind: Literal["mandate", "profession"]
    summary: str
    """"filed by 〇〇 (社会保険労務士) on behalf of △△", for people."""
    filed_by: str
    """The agent, who signed the application."""
    filed_by_profession: Profession | None
    """The agent's licensed profession, when they filed as one."""
    on_behalf_of: str
    """The principal: the mandate's signer, or the client the professional's statement names."""
