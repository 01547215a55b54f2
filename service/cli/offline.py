"""Offline checks anyone can run: a signature, a receipt or notice, an evidence bundle; nothing is fetched."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from service.cli.common import CommandError, UsageError, status

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

    from signing.jpki import CertificateClass

_TRUST_HELP: Final = "trust anchor(s), PEM or DER"
#: ``--class``: the classes a signature may have, and the class the ``--trust`` anchors count as.
_CLASSES: Final[dict[str, tuple[tuple[CertificateClass, ...], CertificateClass]]] = {
    "jpki": (("jpki",), "jpki"),
    "corporate": (("corporate",), "corporate"),
    "accredited": (("accredited",), "accredited"),
    "any": (("jpki", "corporate", "accredited"), "accredited"),
}


def _read_pem_or_der(path: str, kind: str) -> list[bytes]:
    """The DER items in a file that is either PEM (one or more blocks) or a single DER item."""
    from asn1crypto import pem

    data = Path(path).read_bytes()
    if pem.detect(data):
        return [der for found, _, der in pem.unarmor(data, multiple=True) if kind in found]
    return [data]


def _certificates(paths: tuple[str, ...]) -> list[asn1_x509.Certificate]:
    from asn1crypto import x509 as asn1_x509

    return [asn1_x509.Certificate.load(der) for path in paths for der in _read_pem_or_der(path, "CERTIFICATE")]


def _datetime(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _print_json(value: object) -> None:
    import msgspec

    sys.stdout.write(msgspec.json.format(msgspec.json.encode(value).decode(), indent=2) + "\n")


@click.command()
@click.argument("document")
@click.argument("signature")
@click.option("--trust", multiple=True, required=True, help=_TRUST_HELP)
@click.option("--cert", multiple=True, help="extra (link, rollover) certificates")
@click.option("--crl", multiple=True, help="CRL files, PEM or DER")
@click.option("--class", "cert_class", default="any", type=click.Choice(list(_CLASSES)))
@click.option("--test-anchor", is_flag=True, help="the anchors are test anchors (J-LIS test cards)")
@click.option("--at", help="validation time, ISO 8601 (default now)")
@click.option("--signed-after", help="the signature is known to be younger than this, ISO 8601")
def verify(
    document: str,
    signature: str,
    trust: tuple[str, ...],
    cert: tuple[str, ...],
    crl: tuple[str, ...],
    cert_class: str,
    test_anchor: bool,
    at: str | None,
    signed_after: str | None,
) -> int:
    """Verify a detached CMS offline; the report is JSON on stdout (exit 0 passed, 1 failed, 3 indeterminate)."""
    from asn1crypto import crl as asn1_crl

    from signing.report import exit_status
    from signing.trust import Anchor, CRLRejected, TrustStore
    from signing.verify import Bounds, Policy, Verifier, carried_certificates

    classes, anchor_class = _CLASSES[cert_class]  # click.Choice admits only its keys
    anchors = [Anchor(certificate=c, certificate_class=anchor_class, test=test_anchor) for c in _certificates(trust)]
    try:
        store = TrustStore(anchors, _certificates(cert))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    signed = Path(signature).read_bytes()
    # A CRL may be signed by a CA the signature itself carries (a new generation's link certificate);
    # it then counts only on a validated chain through that key. One that nobody known signed is an
    # error, never silently left out.
    carried = carried_certificates(signed)
    for path in crl:
        for der in _read_pem_or_der(path, "CRL"):
            try:
                store.add_crl(asn1_crl.CertificateList.load(der), carried=carried)
            except (CRLRejected, ValueError) as exc:
                raise UsageError(f"--crl {path}: {exc}") from None
    bounds = Bounds(
        validation_time=_datetime(at) if at else dt.datetime.now(dt.UTC),
        signed_after=_datetime(signed_after) if signed_after else None,
    )
    policy = Policy(classes=frozenset(classes), accept_test=test_anchor)
    report = Verifier(store).verify(Path(document).read_bytes(), signed, policy, bounds)
    _print_json(report)
    return exit_status(report)


@click.command(name="verify-receipt")
@click.argument("receipt")
@click.argument("signature")
@click.option("--trust", multiple=True, required=True, help="the agency chain or root, PEM")
def verify_receipt(receipt: str, signature: str, trust: tuple[str, ...]) -> int:
    """Check an agency's receipt (or decision notice) offline against the agency's root."""
    import msgspec

    from signing.receipts import DecisionNotice, Receipt, verify_receipt
    from signing.report import exit_status

    roots = _certificates(trust)
    self_signed = [r for r in roots if r.self_signed != "no"] or roots
    data = Path(receipt).read_bytes()
    report = verify_receipt(data, Path(signature).read_bytes(), self_signed)
    try:
        fields = msgspec.json.decode(data)
        kind = DecisionNotice if isinstance(fields, dict) and fields.get("kind") == "decision_notice" else Receipt
        statement = msgspec.convert(fields, kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CommandError(f"{receipt} is neither a receipt nor a decision notice: {exc}") from None
    key = "decision_notice" if kind is DecisionNotice else "receipt"
    _print_json({key: msgspec.to_builtins(statement), "verification": msgspec.to_builtins(report)})
    return exit_status(report)


@click.command(name="verify-bundle")
@click.argument("bundle")
@click.option("--trust", multiple=True, required=True, help="roots you trust: the signers' CAs and the agency's root")
@click.option("--json", "as_json", is_flag=True, help="the full report as JSON")
def verify_bundle(bundle: str, trust: tuple[str, ...], as_json: bool) -> int:
    """Check an evidence bundle (ZIP) offline; exit 0 all good, 1 failed, 3 indeterminate."""
    from signing import bundle as evidence

    with status() as progress:
        report = evidence.check(Path(bundle).read_bytes(), _certificates(trust), progress)
    if as_json:
        _print_json(report)
    else:
        click.echo(f"bundle of {report.submission_id or '?'} ({report.status or '?'})")
        for finding in report.findings:
            click.echo(f"  [{finding.outcome:>13}] {finding.item}: {finding.detail}")
        click.echo(f"outcome: {report.outcome}")
    return {"ok": 0, "failed": 1, "indeterminate": 3}[report.outcome]


COMMANDS: Final = [verify, verify_receipt, verify_bundle]
