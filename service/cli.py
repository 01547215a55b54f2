"""The ``shinsei`` command: serve, migrate, issue tokens, load the catalogue."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import getpass
import hashlib
import mimetypes
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import msgspec
import structlog
from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

import forms
from service import migrate
from service.audit import trail
from service.auth import service as auth_service
from service.auth.schemas import TokenIn
from service.catalog import service as catalog_service
from service.catalog.schemas import CatalogFile
from service.db import init_connection
from service.embedded import database_url
from service.logs import configure_logging
from service.problems import ProblemError
from service.publishing import service as publishing_service
from service.publishing.cache import CompiledForms
from service.settings import SAMPLE_CATALOG, SAMPLE_FORMS, Settings
from service.validation import collect_problems
from signing import bundle, canonical
from signing.client import p12_signer, pkcs11_signer, sign_detached
from signing.jpki import CertificateClass
from signing.receipts import DecisionNotice, Receipt, verify_receipt
from signing.report import exit_status
from signing.trust import Anchor, TrustStore
from signing.verify import Bounds, Policy, Verifier

T = TypeVar("T")
log = structlog.get_logger("shinsei.cli")


class CommandError(Exception):
    """A failure to report on stderr with exit status 1, without a traceback."""


def _run_with_conn(dsn: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async def run() -> T:
        conn = await asyncpg.connect(dsn)
        try:
            await init_connection(conn)
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def _migrations(settings: Settings) -> list[migrate.Migration]:
    return migrate.discover(Path(settings.migrations_dir))


def read_catalog(path: Path) -> CatalogFile:
    """Parse a catalogue file (YAML or JSON), listing every problem in it rather than the first."""
    raw = path.read_bytes()
    try:
        data = msgspec.yaml.decode(raw)  # YAML is a superset of JSON
    except msgspec.DecodeError as exc:
        raise CommandError(f"{path}: not valid YAML or JSON: {exc}") from None
    problems = collect_problems(data, CatalogFile)
    if problems:
        lines = "\n".join(f"  {p.pointer or '/'}: {p.code}: {p.detail}" for p in problems)
        raise CommandError(f"{path}: {len(problems)} problem(s):\n{lines}")
    return msgspec.convert(data, CatalogFile)


def _upgrade(settings: Settings, dsn: str) -> list[migrate.Migration]:
    migrations = _migrations(settings)
    return _run_with_conn(dsn, lambda conn: migrate.upgrade(conn, migrations))


def _load(dsn: str, catalog: CatalogFile) -> tuple[int, int]:
    async def load(conn: asyncpg.Connection) -> tuple[int, int]:
        async with conn.transaction():
            return await catalog_service.load_catalog(conn, catalog)

    return _run_with_conn(dsn, load)


def read_form(path: Path, registry: forms.ComponentRegistry) -> forms.FormSchema:
    """A schema file (``.yaml``/``.yml`` or JSON), checked offline, listing every problem."""
    fmt: forms.checks.SchemaFormat = "yaml" if path.suffix in (".yaml", ".yml") else "json"
    try:
        schema = forms.parse_schema(forms.decode_document(path.read_bytes(), fmt), registry)
        forms.CompiledForm(schema, 1, registry)
    except forms.SchemaInvalid as exc:
        lines = "\n".join(f"  {e.pointer or '/'}: {e.code}: {e.detail}" for e in exc.errors)
        raise CommandError(f"{path}: {len(exc.errors)} problem(s):\n{lines}") from None
    return schema


def _publish(dsn: str, schemas: list[forms.FormSchema]) -> list[str]:
    """Publish each schema unless its content is already live; report what happened to each."""
    compiled = CompiledForms(forms.default_components())

    async def publish(conn: asyncpg.Connection) -> list[str]:
        report = []
        for schema in schemas:
            async with conn.transaction():
                version = await publishing_service.publish_schema(conn, schema, compiled)
            report.append(f"{schema.id}: " + (f"published version {version.version}" if version else "unchanged"))
        return report

    return _run_with_conn(dsn, publish)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app

    settings = msgspec.structs.replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    catalog = read_catalog(SAMPLE_CATALOG) if args.load_samples else None
    registry = forms.default_components()
    sample_forms = [read_form(p, registry) for p in sorted(SAMPLE_FORMS.glob("*.yaml"))] if args.load_samples else []
    with database_url(settings) as dsn:
        log.info("database", embedded=settings.database_url is None)
        applied = _upgrade(settings, dsn)
        log.info("migrations", applied=[f"{m.version:04d}_{m.name}" for m in applied])
        if catalog is not None:
            agencies, procedures = _load(dsn, catalog)
            log.info("samples_loaded", agencies=agencies, procedures=procedures, forms=_publish(dsn, sample_forms))
        app = create_app(msgspec.structs.replace(settings, database_url=dsn), registry)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            # h11, not httptools: only h11 bounds the header block (httptools accepts megabytes of headers).
            http="h11",
            h11_max_incomplete_event_size=settings.max_header_bytes,
        )
        # CPU work over large inputs runs in worker threads (service/offload.py); while one runs, the
        # event loop waits for the GIL at every switch. 1 ms instead of 5 keeps /healthz and other
        # requests answering in milliseconds meanwhile. Objects from start-up (modules, the app) are
        # moved out of the collector's view, so a full collection caused by a large request is short.
        sys.setswitchinterval(0.001)
        gc.freeze()
        try:
            uvicorn.Server(config).run()
        except KeyboardInterrupt:
            # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal; leaving this
            # block stops the embedded database. A requested stop is a clean exit.
            log.info("stopped")
    return 0


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    with database_url(settings) as dsn:
        applied = _upgrade(settings, dsn)
    for m in applied:
        print(f"applied {m.version:04d}_{m.name}")
    if not applied:
        print("up to date")
    return 0


def cmd_db_status(settings: Settings, args: argparse.Namespace) -> int:
    migrations = _migrations(settings)
    with database_url(settings) as dsn:
        state = _run_with_conn(dsn, lambda conn: migrate.status(conn, migrations))
    for a in state.applied:
        print(f"applied  {a.version:04d}_{a.name}  {a.applied_at.isoformat()}")
    for m in state.pending:
        print(f"pending  {m.version:04d}_{m.name}")
    return 0


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    request = msgspec.convert({"role": args.role, "agency": args.agency, "name": args.name or ""}, TokenIn)

    async def issue(conn: asyncpg.Connection) -> str:
        async with conn.transaction():
            return (await auth_service.issue_token(conn, request)).token

    with database_url(settings) as dsn:
        token = _run_with_conn(dsn, issue)
    print(token)  # alone on stdout, so that scripts can capture it
    return 0


def cmd_catalog_load(settings: Settings, args: argparse.Namespace) -> int:
    catalog = read_catalog(Path(args.file))
    with database_url(settings) as dsn:
        agencies, procedures = _load(dsn, catalog)
    print(f"loaded {agencies} agencies and {procedures} procedures", file=sys.stderr)
    return 0


def cmd_forms_check(settings: Settings, args: argparse.Namespace) -> int:
    registry = forms.default_components()
    for name in args.files:
        schema = read_form(Path(name), registry)
        count = sum(1 + len(getattr(f, "fields", ())) for f in schema.fields())
        print(f"{name}: ok: {schema.id} for {schema.procedure}, {count} fields, sha256 {forms.fingerprint(schema)}")
    return 0


def cmd_forms_publish(settings: Settings, args: argparse.Namespace) -> int:
    registry = forms.default_components()
    schemas = [read_form(Path(name), registry) for name in args.files]
    with database_url(settings) as dsn:
        for line in _publish(dsn, schemas):
            print(line)
    return 0


def _read_pem_or_der(path: str, kind: str) -> list[bytes]:
    """The DER items in a file that is either PEM (one or more blocks) or a single DER item."""
    data = Path(path).read_bytes()
    if pem.detect(data):
        return [der for found, _, der in pem.unarmor(data, multiple=True) if kind in found]
    return [data]


def _datetime(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Verify offline: anchors, extra certificates and CRLs come from files; nothing is fetched."""
    classes: tuple[CertificateClass, ...] = (
        ("jpki", "corporate", "accredited") if args.cert_class == "any" else (args.cert_class,)
    )
    anchor_class: CertificateClass = "accredited" if args.cert_class == "any" else args.cert_class
    anchors = [
        Anchor(certificate=asn1_x509.Certificate.load(der), certificate_class=anchor_class, test=args.test_anchor)
        for path in args.trust
        for der in _read_pem_or_der(path, "CERTIFICATE")
    ]
    extra = [asn1_x509.Certificate.load(der) for path in args.cert for der in _read_pem_or_der(path, "CERTIFICATE")]
    crls = [asn1_crl.CertificateList.load(der) for path in args.crl for der in _read_pem_or_der(path, "CRL")]
    try:
        store = TrustStore(anchors, extra, crls)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    bounds = Bounds(
        validation_time=_datetime(args.at) if args.at else dt.datetime.now(dt.UTC),
        signed_after=_datetime(args.signed_after) if args.signed_after else None,
    )
    policy = Policy(classes=frozenset(classes), accept_test=args.test_anchor)
    report = Verifier(store).verify(Path(args.document).read_bytes(), Path(args.signature).read_bytes(), policy, bounds)
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(report).decode(), indent=2) + "\n")
    return exit_status(report)


def cmd_verify_receipt(settings: Settings, args: argparse.Namespace) -> int:
    """Check a receipt offline against the agency's root (the last certificate of the given PEM)."""
    roots = [asn1_x509.Certificate.load(der) for path in args.trust for der in _read_pem_or_der(path, "CERTIFICATE")]
    self_signed = [r for r in roots if r.self_signed != "no"] or roots
    data = Path(args.receipt).read_bytes()
    report = verify_receipt(data, Path(args.signature).read_bytes(), self_signed)
    try:
        fields = msgspec.json.decode(data)
        kind = DecisionNotice if isinstance(fields, dict) and fields.get("kind") == "decision_notice" else Receipt
        statement = msgspec.convert(fields, kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CommandError(f"{args.receipt} is neither a receipt nor a decision notice: {exc}") from None
    key = "decision_notice" if kind is DecisionNotice else "receipt"
    output = {key: msgspec.to_builtins(statement), "verification": msgspec.to_builtins(report)}
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(output).decode(), indent=2) + "\n")
    return exit_status(report)


def cmd_verify_bundle(settings: Settings, args: argparse.Namespace) -> int:
    """Check an evidence bundle offline against roots you trust; exit 0 all good, 1 failed, 3 indeterminate."""
    trust = [asn1_x509.Certificate.load(der) for path in args.trust for der in _read_pem_or_der(path, "CERTIFICATE")]
    report = bundle.check(Path(args.bundle).read_bytes(), trust)
    if args.json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(report).decode(), indent=2) + "\n")
    else:
        print(f"bundle of {report.submission_id or '?'} ({report.status or '?'})")
        for finding in report.findings:
            print(f"  [{finding.outcome:>13}] {finding.item}: {finding.detail}")
        print(f"outcome: {report.outcome}")
    return {"ok": 0, "failed": 1, "indeterminate": 3}[report.outcome]


def _secret(env: str | None, prompt: str) -> str:
    if env:
        value = os.environ.get(env)
        if value is None:
            raise CommandError(f"{env} is not set")
        return value
    return getpass.getpass(prompt)


def cmd_sign(settings: Settings, args: argparse.Namespace) -> int:
    document = Path(args.document).read_bytes()
    with _signer_from_args(args) as signer:
        signature = sign_detached(document, signer)
    Path(args.output).write_bytes(signature)
    print(f"signed {len(document)} bytes; detached CMS written to {args.output}", file=sys.stderr)
    return 0


def _signer_from_args(args: argparse.Namespace) -> contextlib.AbstractContextManager[Any]:
    if args.p12:
        password = _secret(args.password_env, "PKCS#12 password: ")
        return contextlib.nullcontext(p12_signer(Path(args.p12).read_bytes(), password.encode() or None))
    if not (args.token_label and args.key_label):
        raise CommandError("--pkcs11-module needs --token-label and --key-label")
    return pkcs11_signer(args.pkcs11_module, args.token_label, args.key_label, _secret(args.pin_env, "PIN: "))


def _problem(response: httpx.Response) -> CommandError:
    try:
        body = response.json()
    except ValueError:
        return CommandError(f"the server answered {response.status_code}")
    lines = [f"{body.get('title', response.status_code)} {body.get('detail', '')}"]
    lines += [
        f"  {e.get('pointer') or e.get('parameter') or '/'}: {e.get('code')}: {e.get('detail')}"
        for e in body.get("errors") or []
    ]
    return CommandError("\n".join(lines))


def cmd_submit(settings: Settings, args: argparse.Namespace) -> int:
    """The applicant's round trip: nonce, document, digests, signature, upload; the receipt saved."""
    server = args.server.rstrip("/")
    answers = msgspec.json.decode(Path(args.answers).read_bytes())
    files: list[tuple[str, Any]] = []
    for item in args.attach:
        field, _, path = item.partition("=")
        content = Path(path).read_bytes()
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        answers[field] = {
            "filename": Path(path).name,
            "media_type": media_type,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
        files.append(("attachment", (Path(path).name, content, media_type)))
    with httpx.Client(base_url=server, timeout=60) as client:
        version = args.version
        if version is None:
            form = client.get(f"/api/v1/forms/{args.form}")
            if form.status_code != 200:
                raise _problem(form)
            version = form.json()["latest"]["version"]
        nonce = client.post(f"/api/v1/forms/{args.form}/versions/{version}/nonces")
        if nonce.status_code != 201:
            raise _problem(nonce)
        document = canonical.encode(
            {"form_id": args.form, "form_version": version, "nonce": nonce.json()["nonce"], "answers": answers}
        )
        with _signer_from_args(args) as signer:
            signature = sign_detached(document, signer)
        parts = [
            ("document", ("document.json", document, "application/json")),
            ("signature", ("signature.p7s", signature, "application/pkcs7-signature")),
            *files,
        ]
        response = client.post("/api/v1/submissions", files=parts)
        if response.status_code != 201:
            raise _problem(response)
        body = response.json()
        token = {"Authorization": f"Bearer {body['access_token']}"}
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = out / body["receipt_number"]
        for suffix, link in (
            ("receipt.json", "receipt"),
            ("receipt.p7s", "receipt_signature"),
            ("receipt.pdf", "receipt_pdf"),
        ):
            Path(f"{stem}.{suffix}").write_bytes(client.get(body["links"][link], headers=token).content)
        token_file = Path(f"{stem}.token")
        token_file.write_text(f"{body['submission_id']} {body['access_token']}\n")
        token_file.chmod(0o600)
    print(body["receipt_number"])
    summary = f"submission {body['submission_id']}: {body['status']}, signature {body['verification']['status']}"
    print(f"{summary}; receipt files and access token in {out}", file=sys.stderr)
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    with httpx.Client(base_url=args.server.rstrip("/"), timeout=60) as client:
        response = client.get(
            f"/api/v1/submissions/{args.submission_id}", headers={"Authorization": f"Bearer {args.token}"}
        )
    if response.status_code != 200:
        raise _problem(response)
    sys.stdout.write(msgspec.json.format(response.text, indent=2) + "\n")
    return 0


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Walk the audit chain: the first broken link (exit 1), or the head and the count (exit 0)."""
    with database_url(settings) as dsn:
        report = _run_with_conn(dsn, trail.verify_chain)
    if report.broken_at is not None:
        print(f"broken at event {report.broken_at}: {report.count} good events before it, last good hash {report.head}")
        return 1
    print(f"{report.count} events; head {report.head}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="shinsei", description="Signed online applications (申請).")
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate and serve the HTTP API")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--load-samples", action="store_true", help="load the sample catalogue first")
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(handler=cmd_db_upgrade)
    db.add_parser("status", help="list applied and pending migrations").set_defaults(handler=cmd_db_status)

    token = commands.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    create = token.add_parser("create", help="issue a token and print it once")
    create.add_argument("--role", required=True, choices=["admin", "agency-admin", "clerk"])
    create.add_argument("--agency", help="agency code, for agency-admin and clerk")
    create.add_argument("--name", help="what the token is for")
    create.set_defaults(handler=cmd_token_create)

    catalog = commands.add_parser("catalog", help="procedure catalogue")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    load = catalog_commands.add_parser("load", help="upsert agencies and procedures from a YAML/JSON file")
    load.add_argument("file")
    load.set_defaults(handler=cmd_catalog_load)

    forms_parser = commands.add_parser("forms", help="form schemas")
    forms_commands = forms_parser.add_subparsers(dest="forms_command", required=True)
    check = forms_commands.add_parser("check", help="check schema files offline and print every problem")
    check.add_argument("files", nargs="+")
    check.set_defaults(handler=cmd_forms_check)
    publish = forms_commands.add_parser("publish", help="create or update forms from files and publish them")
    publish.add_argument("files", nargs="+")
    publish.set_defaults(handler=cmd_forms_publish)

    verify = commands.add_parser("verify", help="verify a detached CMS offline; the report is JSON on stdout")
    verify.add_argument("document")
    verify.add_argument("signature")
    verify.add_argument("--trust", action="append", required=True, help="trust anchor(s), PEM or DER")
    verify.add_argument("--cert", action="append", default=[], help="extra (link, rollover) certificates")
    verify.add_argument("--crl", action="append", default=[], help="CRL files, PEM or DER")
    verify.add_argument("--class", dest="cert_class", default="any", choices=["jpki", "corporate", "accredited", "any"])
    verify.add_argument("--test-anchor", action="store_true", help="the anchors are test anchors (J-LIS test cards)")
    verify.add_argument("--at", help="validation time, ISO 8601 (default now)")
    verify.add_argument("--signed-after", help="the signature is known to be younger than this, ISO 8601")
    verify.set_defaults(handler=cmd_verify)

    sign = commands.add_parser("sign", help="sign a document's exact bytes: a detached CMS")
    sign.add_argument("document")
    sign.add_argument("-o", "--output", required=True)
    key = sign.add_mutually_exclusive_group(required=True)
    key.add_argument("--p12", help="PKCS#12 file")
    key.add_argument("--pkcs11-module", help="PKCS#11 module (opensc-pkcs11.so for a My Number card)")
    sign.add_argument("--password-env", help="environment variable holding the PKCS#12 password")
    sign.add_argument("--token-label")
    sign.add_argument("--key-label")
    sign.add_argument("--pin-env", help="environment variable holding the PIN")
    sign.set_defaults(handler=cmd_sign)

    check = commands.add_parser("verify-receipt", help="check an agency's receipt offline")
    check.add_argument("receipt", help="RECEIPT.json")
    check.add_argument("signature", help="RECEIPT.p7s")
    check.add_argument("--trust", action="append", required=True, help="the agency chain or root, PEM")
    check.set_defaults(handler=cmd_verify_receipt)

    evidence = commands.add_parser("verify-bundle", help="check an evidence bundle (ZIP) offline")
    evidence.add_argument("bundle", help="the ZIP from GET /api/v1/submissions/{id}/bundle")
    evidence.add_argument(
        "--trust", action="append", required=True, help="roots you trust: the signers' CAs and the agency's root"
    )
    evidence.add_argument("--json", action="store_true", help="the full report as JSON")
    evidence.set_defaults(handler=cmd_verify_bundle)

    submit = commands.add_parser("submit", help="fill, sign and submit an application; save its receipt")
    submit.add_argument("--form", required=True)
    submit.add_argument("--version", type=int, help="form version (default: the current one)")
    submit.add_argument("--answers", required=True, help="JSON file with the answers")
    submit.add_argument(
        "--attach", action="append", default=[], metavar="FIELD=PATH", help="a file for an attachment field"
    )
    signing_key = submit.add_mutually_exclusive_group(required=True)
    signing_key.add_argument("--p12")
    signing_key.add_argument("--pkcs11-module")
    submit.add_argument("--password-env")
    submit.add_argument("--token-label")
    submit.add_argument("--key-label")
    submit.add_argument("--pin-env")
    submit.add_argument("--server", default="http://127.0.0.1:8000")
    submit.add_argument("--out", default=".", help="where to save the receipt and the access token")
    submit.set_defaults(handler=cmd_submit)

    status = commands.add_parser("status", help="a submission's status and timeline")
    status.add_argument("submission_id")
    status.add_argument("--token", required=True, help="the submission's access token")
    status.add_argument("--server", default="http://127.0.0.1:8000")
    status.set_defaults(handler=cmd_status)

    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="walk the hash chain; exit 1 at the first broken link").set_defaults(
        handler=cmd_audit_verify
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env(os.environ)
    configure_logging(settings)
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    try:
        return handler(settings, args)
    except (CommandError, migrate.MigrationError) as exc:
        print(f"shinsei: {exc}", file=sys.stderr)
        return 1
    except ProblemError as exc:
        details = "".join(f"\n  {e.pointer or e.parameter}: {e.detail}" for e in exc.errors or [])
        print(f"shinsei: {exc.detail}{details}", file=sys.stderr)
        return 1
    except msgspec.ValidationError as exc:
        print(f"shinsei: {exc}", file=sys.stderr)
        return 2
