"""Mandate rules: a filing on someone's behalf is taken only with a mandate that holds on every point.

Intake calls ``check_mandate`` once the application's own signatures are judged, and ``record``
once the submission is stored; everything else of a proxy filing lives here. A mandate (委任状) holds
when the procedure takes mandates (catalogue ``proxy.mandate``), it is a valid ``MandateDocument``,
its signature by the principal passes (a JPKI or corporate certificate, revocation checked now), it
names its signer as the principal and the application's signer as the agent (name and birth date
for a My Number card; the company name for a corporate certificate), it covers this procedure and
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
from typing import Any, Final

import asyncpg
import msgspec

from service.problems import MandateRejected
from service.proxy import queries
from service.proxy.schemas import MandateDocument, Party, ProxyFilingOut
from service.submissions.identity import fold, identity
from service.validation import FieldProblem, collect_problems
from signing.jpki import CertificateClass
from signing.report import VerificationReport
from signing.verify import Bounds, Policy, Verifier

JAPAN: Final = dt.timezone(dt.timedelta(hours=9), "JST")
PRINCIPAL_CLASSES: Final[frozenset[CertificateClass]] = frozenset({"jpki", "corporate"})
_decoder: Final = msgspec.json.Decoder()


class Filing(msgspec.Struct, frozen=True, kw_only=True):
    """A mandate that holds: who filed, for whom, and the evidence."""

    agent: dict[str, Any]
    principal: dict[str, Any]
    principal_identity: dict[str, Any]
    """As ``signer_identity`` keeps it: the principal may withdraw or amend too."""
    principal_report: VerificationReport
    mandate: bytes
    mandate_signature: bytes


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
    """Whether the certificate that made ``report`` is the party's: a card by name and birth date, a company by name."""
    if report.holder is not None and report.holder.name is not None:
        return (
            party.birth_date is not None
            and report.holder.birth_date == party.birth_date
            and fold(party.name) == fold(report.holder.name)
        )
    return (
        report.signer is not None
        and report.signer.certificate_class == "corporate"
        and fold(party.name) in _names(report)
    )


def display(report: VerificationReport) -> str:
    if report.holder is not None and report.holder.name is not None:
        return report.holder.name
    return report.signer.subject if report.signer is not None else "?"


def _document(mandate: bytes) -> MandateDocument:
    try:
        raw = _decoder.decode(mandate)
    except msgspec.DecodeError as exc:
        raise _rejected([FieldProblem(pointer="/mandate", code="malformed", detail=f"not JSON: {exc}")]) from None
    if problems := collect_problems(raw, MandateDocument, "/mandate"):
        raise _rejected(problems)
    return msgspec.convert(raw, MandateDocument)


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


async def check_mandate(
    conn: asyncpg.Connection,
    procedure_id: str,
    mandate: bytes | None,
    mandate_signature: bytes | None,
    reports: list[VerificationReport],
    *,
    verifier: Verifier,
    now: dt.datetime,
    accept_test: bool = False,
) -> Filing | None:
    """The filing on someone's behalf that the parts make, or None for an applicant filing for themselves."""
    if mandate is None and mandate_signature is None:
        return None
    if mandate is None or mandate_signature is None:
        missing = "mandate" if mandate is None else "mandate_signature"
        raise _rejected(
            [FieldProblem(pointer=f"/{missing}", code="missing_part", detail=f"the {missing} part is missing")]
        )
    rule = await queries.proxy_rule(conn, procedure_id)
    if rule is None or not rule.get("mandate"):
        detail = f"the procedure {procedure_id} is not filed on someone's behalf with a mandate"
        raise _rejected([FieldProblem(pointer="/mandate", code="not_allowed", detail=detail)])
    doc = _document(mandate)
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
    return Filing(
        agent=identity(agent) | {"display": display(agent)},
        principal=identity(report) | {"display": display(report)},
        principal_identity=identity(report),
        principal_report=report,
        mandate=mandate,
        mandate_signature=mandate_signature,
    )


async def record(conn: asyncpg.Connection, submission_id: uuid.UUID, filing: Filing) -> None:
    """Keep the mandate and who filed for whom beside the new submission (its first revision)."""
    await queries.insert_filing(
        conn, submission_id, filing.agent, filing.principal, fold(str(filing.agent["display"])), filing.mandate,
        filing.mandate_signature, hashlib.sha256(filing.mandate).digest(), msgspec.to_builtins(filing.principal_report),
    )  # fmt: skip


async def filing_view(conn: asyncpg.Connection, submission_id: uuid.UUID) -> ProxyFilingOut | None:
    """What the review view shows of a filing on someone's behalf; None for an applicant's own."""
    row = await queries.filing(conn, submission_id)
    if row is None:
        return None
    agent, principal = row["agent"], row["principal"]
    return ProxyFilingOut(
        kind=row["kind"],
        summary=f"filed by {agent['display']} on behalf of {principal['display']} (mandate, 委任状)",
        agent=agent,
        principal=principal,
        mandate=msgspec.json.decode(row["mandate"], type=MandateDocument),
        mandate_sha256=row["mandate_sha256"].hex(),
        report=row["report"],
    )


def agent_key(agent: str) -> str:
    """The queue's ``agent`` filter, compared as names are (NFKC, spaces removed)."""
    return fold(agent)
