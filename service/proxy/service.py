"""Filing on someone's behalf: taken only with a mandate, or a professional's statement, that holds on every point.

Intake calls ``widen`` before it verifies the application (a professional signs it with their
association's certificate), ``check_filing`` once the application's signatures are judged, and
``record`` once the submission is stored; everything else of a proxy filing lives here.

A professional's statement (提出代行証明書) holds when the procedure lists the profession (catalogue
``proxy.professions``), its signature passes under that profession's trust class, it is signed with
the very certificate that signed the application and names its holder as the agent, and it covers
this procedure (dated no later than today). The client is as the professional states them.

A mandate (委任状) holds
when the procedure takes mandates (catalogue ``proxy.mandate``), it is a valid ``MandateDocument``,
its signature by the principal passes (a JPKI or corporate certificate, revocation checked now), it
names its signer as the principal and the application's signer as the agent (name and birth date
for a My Number card; the company name for a corporate certificate; the professional's name for a
certificate of a profession the procedure lists, which may then sign the application), it covers this procedure and
today (Japan time), and it was signed no later than the application. Each failure is one error in
one ``mandate-rejected`` problem, with its own code and pointer.

The signing times compared are the ones the signatures claim (the signers' software sets them):
this catches a mandate made after the fact by mistake, not a forger who controls both clocks, which
a time-stamped mandate would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any, Final, Literal, TypeVar

import asyncpg
import msgspec

from service.problems import MandateRejected
from service.proxy import queries
from service.proxy.schemas import FiledOnBehalf, MandateDocument, Party, ProxyFilingOut, StatementDocument
from service.submissions.identity import fold, identity
from service.validation import FieldProblem, collect_problems
from signing.jpki import PROFESSION_NAMES, PROFESSIONS, CertificateClass
from signing.report import VerificationReport
from signing.verify import Bounds, Policy, Verifier

JAPAN: Final = dt.timezone(dt.timedelta(hours=9), "JST")
PRINCIPAL_CLASSES: Final[frozenset[CertificateClass]] = frozenset({"jpki", "corporate"})
#: Certificates that name their holder in the subject: a company's, and a professional's from their association.
NAMED_CLASSES: Final[frozenset[str]] = frozenset({"corporate", *PROFESSIONS})
_decoder: Final = msgspec.json.Decoder()
T = TypeVar("T")


class Filing(msgspec.Struct, frozen=True, kw_only=True):
    """A mandate or a statement that holds: who filed, for whom, and the evidence."""

    kind: Literal["mandate", "profession"]
    agent: dict[str, Any]
    principal: dict[str, Any]
    principal_identity: dict[str, Any] | None
    """As ``signer_identity`` keeps it: a principal who signed a mandate may withdraw or amend too."""
    principal_report: VerificationReport | None
    """The mandate's signature: its holder is who the answers name."""
    report: VerificationReport
    document: bytes
    signature: bytes


class Documents(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of a filing on someone's behalf, as intake read them (each None when absent)."""

    mandate: bytes | None = None
    mandate_signature: bytes | None = None
    statement: bytes | None = None
    statement_signature: bytes | None = None


def _rejected(errors: list[FieldProblem], **extensions: Any) -> MandateRejected:
    first = errors[0].detail
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return MandateRejected(f"The mandate cannot be accepted: {first}{more}.", errors=errors, extensions=extensions)


def _names(report: VerificationReport) -> set[str]:
    """The names a certificate states, folded: the JPKI holder's, or a corporate subject's attribute values."""
    if report.holder is not None and report.holder.name is not None:
        return {fold(report.holder.name)}
    subject = report.signer.subject if report.signer is not None else ""
    return {fold(part.partition(": ")[2]) for part in subject.split(", ") if ": " in part}


def names(party: Party, report: VerificationReport) -> bool:
    """Whether the certificate that made ``report`` is the party's.

    A card by name and birth date; a company, or a licensed professional (their association's
    certificate), by a name its subject states.
    """
    if report.holder is not None and report.holder.name is not None:
        return (
            party.birth_date is not None
            and report.holder.birth_date == party.birth_date
            and fold(party.name) == fold(report.holder.name)
        )
    return (
        report.signer is not None
        and report.signer.certificate_class in NAMED_CLASSES
        and fold(party.name) in _names(report)
    )


def display(report: VerificationReport) -> str:
    if report.holder is not None and report.holder.name is not None:
        return report.holder.name
    return report.signer.subject if report.signer is not None else "?"


def _decode(data: bytes, kind: type[T], pointer: str) -> T:
    try:
        raw = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise _rejected([FieldProblem(pointer=pointer, code="malformed", detail=f"not JSON: {exc}")]) from None
    if problems := collect_problems(raw, kind, pointer):
        raise _rejected(problems)
    return msgspec.convert(raw, kind)


def _pair(document: bytes | None, signature: bytes | None, name: str) -> tuple[bytes, bytes] | None:
    if document is None and signature is None:
        return None
    if document is None or signature is None:
        missing = name if document is None else f"{name}_signature"
        detail = f"the {missing} part is missing"
        raise _rejected([FieldProblem(pointer=f"/{missing}", code="missing_part", detail=detail)])
    return document, signature


def _terms(doc: MandateDocument, procedure_id: str, today: dt.date) -> list[FieldProblem]:
    errors = []
    if procedure_id not in doc.procedures:
        detail = f"it does not cover the procedure {procedure_id}"
        errors.append(FieldProblem(pointer="/mandate/procedures", code="procedure_not_covered", detail=detail))
    if today < doc.valid_from:
        detail = f"it is valid only from {doc.valid_from.isoformat()}"
        errors.append(FieldProblem(pointer="/mandate/valid_from", code="not_yet_valid", detail=detail))
    if today > doc.valid_until:
        detail = f"it expired on {doc.valid_until.isoformat()}"
        errors.append(FieldProblem(pointer="/mandate/valid_until", code="expired", detail=detail))
    if doc.date > today:
        errors.append(FieldProblem(pointer="/mandate/date", code="future_date", detail="it is dated in the future"))
    return errors


async def widen(conn: asyncpg.Connection, procedure_id: str, policy: Policy, parts: Documents) -> Policy:
    """With a professional's statement or a mandate, the professions the procedure lists may sign the application too.

    A 行政書士 given a client's mandate signs with their association's certificate, as with a statement;
    the mandate must then name them as that certificate does.
    """
    if parts.statement is None and parts.mandate is None:
        return policy
    rule = await queries.proxy_rule(conn, procedure_id) or {}
    allowed = frozenset(p for p in PROFESSIONS if p in rule.get("professions", []))
    return msgspec.structs.replace(policy, classes=policy.classes | allowed)


async def check_filing(
    conn: asyncpg.Connection,
    procedure_id: str,
    parts: Documents,
    reports: list[VerificationReport],
    *,
    verifier: Verifier,
    now: dt.datetime,
    accept_test: bool = False,
) -> Filing | None:
    """The filing on someone's behalf that the parts make, or None for an applicant filing for themselves."""
    mandate = _pair(parts.mandate, parts.mandate_signature, "mandate")
    statement = _pair(parts.statement, parts.statement_signature, "statement")
    if mandate is not None and statement is not None:
        detail = "send a mandate or a professional's statement, not both"
        raise _rejected([FieldProblem(pointer="/statement", code="both", detail=detail)])
    if statement is not None:
        return await check_statement(conn, procedure_id, *statement, reports, verifier=verifier, now=now)
    if mandate is not None:
        return await check_mandate(
            conn, procedure_id, *mandate, reports, verifier=verifier, now=now, accept_test=accept_test
        )
    return None


async def check_statement(
    conn: asyncpg.Connection,
    procedure_id: str,
    statement: bytes,
    statement_signature: bytes,
    reports: list[VerificationReport],
    *,
    verifier: Verifier,
    now: dt.datetime,
) -> Filing:
    """提出代行: the professional's statement, signed with the certificate that signed the application."""
    doc = _decode(statement, StatementDocument, "/statement")
    rule = await queries.proxy_rule(conn, procedure_id) or {}
    if doc.profession not in rule.get("professions", []):
        detail = f"the procedure {procedure_id} is not filed by a {doc.profession} on a client's behalf"
        raise _rejected([FieldProblem(pointer="/statement/profession", code="not_allowed", detail=detail)])
    policy = Policy(classes=frozenset({doc.profession}))
    report = await verifier.averify(statement, statement_signature, policy, Bounds(validation_time=now))
    if not report.passed or report.signer is None:
        detail = f"its signature does not verify as a {doc.profession}'s: {report.sub_indication or report.indication}"
        raise _rejected(
            [FieldProblem(pointer="/statement_signature", code="signature", detail=detail)],
            report=msgspec.to_builtins(report),
        )
    errors = []
    certificate = report.signer.sha256
    if not any(r.signer is not None and r.signer.sha256 == certificate for r in reports):
        detail = "it is not signed with the certificate that signed the application"
        errors.append(FieldProblem(pointer="/statement_signature", code="agent_mismatch", detail=detail))
    if fold(doc.agent.name) not in _names(report):
        detail = "the professional it names is not the one who signed it"
        errors.append(FieldProblem(pointer="/statement/agent", code="agent_mismatch", detail=detail))
    if procedure_id not in doc.procedures:
        detail = f"it does not cover the procedure {procedure_id}"
        errors.append(FieldProblem(pointer="/statement/procedures", code="procedure_not_covered", detail=detail))
    if doc.date > now.astimezone(JAPAN).date():
        errors.append(FieldProblem(pointer="/statement/date", code="future_date", detail="it is dated in the future"))
    if errors:
        raise _rejected(errors)
    stated = {"profession": doc.profession, "registration_number": doc.registration_number}
    return Filing(
        kind="profession",
        agent=identity(report) | {"display": doc.agent.name} | stated,
        principal=msgspec.to_builtins(doc.principal) | {"display": doc.principal.name, "stated_by_agent": True},
        principal_identity=None,
        principal_report=None,
        report=report,
        document=statement,
        signature=statement_signature,
    )


async def check_mandate(
    conn: asyncpg.Connection,
    procedure_id: str,
    mandate: bytes,
    mandate_signature: bytes,
    reports: list[VerificationReport],
    *,
    verifier: Verifier,
    now: dt.datetime,
    accept_test: bool = False,
) -> Filing:
    """委任状: the principal's signed mandate for the agent who signed the application."""
    rule = await queries.proxy_rule(conn, procedure_id)
    if rule is None or not rule.get("mandate"):
        detail = f"the procedure {procedure_id} is not filed on someone's behalf with a mandate"
        raise _rejected([FieldProblem(pointer="/mandate", code="not_allowed", detail=detail)])
    doc = _decode(mandate, MandateDocument, "/mandate")
    policy = Policy(classes=PRINCIPAL_CLASSES, accept_test=accept_test)
    report = await verifier.averify(mandate, mandate_signature, policy, Bounds(validation_time=now))
    if not report.passed:
        detail = f"its signature does not verify: {report.sub_indication or report.indication}"
        raise _rejected(
            [FieldProblem(pointer="/mandate_signature", code="signature", detail=detail)],
            report=msgspec.to_builtins(report),
        )
    errors = []
    if not names(doc.principal, report):
        detail = "the principal it names is not the one who signed it"
        errors.append(FieldProblem(pointer="/mandate/principal", code="principal_mismatch", detail=detail))
    agents = [r for r in reports if names(doc.agent, r)]
    if not agents:
        detail = "it names another agent than the one who signed the application"
        errors.append(FieldProblem(pointer="/mandate/agent", code="agent_mismatch", detail=detail))
    errors += _terms(doc, procedure_id, now.astimezone(JAPAN).date())
    signed = [r.claimed_signing_time for r in agents or reports if r.claimed_signing_time is not None]
    application_time = min(signed, default=now)
    if report.claimed_signing_time is None:
        detail = "its signature states no signing time"
        errors.append(FieldProblem(pointer="/mandate_signature", code="signing_time_missing", detail=detail))
    elif report.claimed_signing_time > application_time:
        detail = "it was signed after the application"
        errors.append(FieldProblem(pointer="/mandate_signature", code="signed_after_application", detail=detail))
    if errors:
        raise _rejected(errors)
    agent = agents[0]
    profession = agent.signer.certificate_class if agent.signer is not None else None
    # A card names its holder; another certificate's subject is many names, of which the mandate's matched.
    shown = display(agent) if agent.holder is not None and agent.holder.name is not None else doc.agent.name
    return Filing(
        kind="mandate",
        agent=identity(agent) | {"display": shown} | ({"profession": profession} if profession in PROFESSIONS else {}),
        principal=identity(report) | {"display": display(report)},
        principal_identity=identity(report),
        principal_report=report,
        report=report,
        document=mandate,
        signature=mandate_signature,
    )


def receipt_parties(filing: Filing) -> dict[str, str]:
    """What the receipt says of a filing on someone's behalf: who filed (and as which profession), for whom."""
    parties = {"filed_by": str(filing.agent["display"]), "on_behalf_of": str(filing.principal["display"])}
    if (profession := filing.agent.get("profession")) is not None:
        parties["filed_by_profession"] = str(profession)
    return parties


async def record(conn: asyncpg.Connection, submission_id: uuid.UUID, filing: Filing) -> None:
    """Keep the mandate or statement, and who filed for whom, beside the new submission."""
    await queries.insert_filing(
        conn, submission_id, filing.kind, filing.agent, filing.principal, fold(str(filing.agent["display"])),
        filing.document, filing.signature, hashlib.sha256(filing.document).digest(),
        msgspec.to_builtins(filing.report),
    )  # fmt: skip


def _summary(kind: str, agent: dict[str, Any], principal: dict[str, Any]) -> str:
    title = f" ({PROFESSION_NAMES.get(str(agent['profession']), '?')})" if "profession" in agent else ""
    how = "提出代行" if kind == "profession" else "mandate, 委任状"
    return f"filed by {agent['display']}{title} on behalf of {principal['display']} ({how})"


async def filed_on_behalf(conn: asyncpg.Connection, submission_id: uuid.UUID) -> FiledOnBehalf | None:
    """What the applicant's views say of a filing on someone's behalf; None for an applicant's own."""
    row = await queries.filing(conn, submission_id)
    if row is None:
        return None
    agent, principal = row["agent"], row["principal"]
    return FiledOnBehalf(
        kind=row["kind"],
        summary=_summary(row["kind"], agent, principal),
        filed_by=str(agent["display"]),
        filed_by_profession=agent.get("profession"),
        on_behalf_of=str(principal["display"]),
    )


async def filing_view(conn: asyncpg.Connection, submission_id: uuid.UUID) -> ProxyFilingOut | None:
    """What the review view shows of a filing on someone's behalf; None for an applicant's own."""
    row = await queries.filing(conn, submission_id)
    if row is None:
        return None
    agent, principal = row["agent"], row["principal"]
    return ProxyFilingOut(
        kind=row["kind"],
        summary=_summary(row["kind"], agent, principal),
        agent=agent,
        principal=principal,
        document=msgspec.json.decode(row["mandate"]),
        document_sha256=row["mandate_sha256"].hex(),
        report=row["report"],
    )


def agent_key(agent: str) -> str:
    """The queue's ``agent`` filter, compared as names are (NFKC, spaces removed)."""
    return fold(agent)
