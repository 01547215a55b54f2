"""Commands for the operator: serve, the schema, tokens, the catalogue and forms, the audit trail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from service.cli.common import progress, run_with_conn, settings
from service.settings import SAMPLE_CATALOG, SAMPLE_FORMS, Settings

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import asyncpg

    import forms
    from service import migrate
    from service.catalog.schemas import CatalogFile

#: Japan time, where retention periods end (1 April, 00:00).
JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")

#: Procedures upserted per step of ``catalog load`` (all in one transaction; the step moves the bar).
CATALOG_CHUNK: Final = 200


def _migrations() -> list[migrate.Migration]:
    from service import migrate
    from service.settings import MIGRATIONS_DIR

    return migrate.discover(MIGRATIONS_DIR)


def _upgrade(dsn: str) -> list[migrate.Migration]:
    from service import migrate

    migrations = _migrations()
    return run_with_conn(dsn, lambda conn: migrate.upgrade(conn, migrations))


def _load(dsn: str, catalog: CatalogFile) -> tuple[int, int]:
    """Upsert the catalogue in one transaction, in chunks so that a long load shows its progress."""
    from service.catalog import service as catalog_service
    from service.catalog.schemas import CatalogFile

    chunks = [CatalogFile(agencies=catalog.agencies)] + [
        CatalogFile(procedures=catalog.procedures[i : i + CATALOG_CHUNK])
        for i in range(0, len(catalog.procedures), CATALOG_CHUNK)
    ]

    async def load(conn: asyncpg.Connection) -> tuple[int, int]:
        agencies = procedures = 0
        async with conn.transaction():
            with progress(chunks, "loading the catalogue") as steps:
                for chunk in steps:
                    a, p = await catalog_service.load_catalog(conn, chunk)
                    agencies, procedures = agencies + a, procedures + p
        return agencies, procedures

    return run_with_conn(dsn, load)


def _publish(dsn: str, schemas: list[forms.FormSchema]) -> list[str]:
    """Publish each schema unless its content is already live; one line per schema saying which."""
    import forms
    from service.publishing import service as publishing_service
    from service.publishing.cache import CompiledForms

    compiled = CompiledForms(forms.default_components())

    async def publish(conn: asyncpg.Connection) -> list[str]:
        report = []
        with progress(schemas, "publishing forms") as items:
            for schema in items:
                async with conn.transaction():
                    version = await publishing_service.publish_schema(conn, schema, compiled)
                report.append(f"{schema.id}: " + (f"published version {version.version}" if version else "unchanged"))
        return report

    return run_with_conn(dsn, publish)


def _sample_forms() -> list[Traversable]:
    return sorted((p for p in SAMPLE_FORMS.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)


@click.command()
@click.option("--host", help="address to listen on (default 127.0.0.1)")
@click.option("--port", type=int, help="port to listen on (default 8000)")
@click.option("--load-samples", is_flag=True, help="load the sample catalogue first")
@click.option("--workers", type=click.IntRange(min=1), help="worker processes (default SHINSEI_WORKERS, 1)")
def serve(host: str | None, port: int | None, load_samples: bool, workers: int | None) -> int:
    """Migrate and serve the HTTP API."""
    import msgspec
    import structlog
    import uvicorn

    import forms
    from service.app import create_app
    from service.cli.files import read_catalog, read_form
    from service.embedded import database_url

    log = structlog.get_logger("shinsei.cli")
    config: Settings = msgspec.structs.replace(
        settings(), host=host or settings().host, port=port or settings().port, workers=workers or settings().workers
    )
    catalog = read_catalog(SAMPLE_CATALOG) if load_samples else None
    registry = forms.default_components()
    sample_forms = [read_form(p, registry) for p in _sample_forms()] if load_samples else []
    with database_url(config) as dsn:
        log.info("database", embedded=config.database_url is None)
        applied = _upgrade(dsn)
        log.info("migrations", applied=[f"{m.version:04d}_{m.name}" for m in applied])
        if catalog is not None:
            agencies, procedures = _load(dsn, catalog)
            published = _publish(dsn, sample_forms)
            log.info("samples_loaded", agencies=agencies, procedures=procedures, forms=published)
        if config.env == "development":
            from service import devcard

            log.warning("development_mode", detail="test anchors and test cards (shinsei dev card) are accepted")
            if (until := devcard.refresh_crl(config, dsn)) is not None:
                log.info("development_crl", next_update=until.isoformat())
        try:
            if config.workers > 1:
                _serve_workers(config, dsn)
            else:
                app = create_app(msgspec.structs.replace(config, database_url=dsn), registry)
                server = uvicorn.Config(
                    app, host=config.host, port=config.port, log_config=None, access_log=False, lifespan="on",
                    **_http_limits(config),
                )  # fmt: skip
                _responsive_loop()
                uvicorn.Server(server).run()
        except KeyboardInterrupt:
            # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal; leaving this
            # block stops the embedded database. A requested stop is a clean exit.
            log.info("stopped")
    return 0


def _http_limits(config: Settings) -> dict[str, Any]:
    from service.http_server import BoundedHead

    # httptools, with the head bounded as h11 bounds it (service/http_server.py): a tenth of intake's CPU
    # went to h11's parsing in pure Python. The class is passed by reference, so workers import it too.
    return {"http": BoundedHead, "h11_max_incomplete_event_size": config.max_header_bytes}


def _responsive_loop() -> None:
    """Keep the event loop answering while worker threads do CPU work (service/offload.py).

    While one runs, the loop waits for the GIL at every switch: 1 ms instead of 5 keeps /healthz and
    other requests answering in milliseconds. Objects from start-up (modules, the app) are moved out of
    the collector's view, so a full collection caused by a large request is short.
    """
    import gc
    import sys

    sys.setswitchinterval(0.001)
    gc.freeze()


def _serve_workers(config: Settings, dsn: str) -> None:
    """Several processes: uvicorn spawns each, and each builds the app from the environment set here.

    Their metrics meet in ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary folder unless set), which
    must be set before a worker imports prometheus_client and must not hold an earlier run's files.
    """
    import os
    import shutil
    import tempfile

    import uvicorn

    from signing.devca import development_receipt_key

    given = config.prometheus_multiproc_dir
    directory = Path(given or tempfile.mkdtemp(prefix="shinsei-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    if not (config.receipt_p12 or config.receipt_pkcs11_module):
        # Made once here: workers starting together would each make a different development root.
        development_receipt_key(Path(config.data_dir) / "receipts", algorithm=config.receipt_key_algorithm)
    os.environ.update({"DATABASE_URL": dsn, "PROMETHEUS_MULTIPROC_DIR": str(directory)})
    try:
        uvicorn.run(
            "service.app:app_from_environment", factory=True, workers=config.workers, host=config.host,
            port=config.port, log_config=None, access_log=False, lifespan="on", **_http_limits(config),
        )  # fmt: skip
    finally:
        if given is None:
            shutil.rmtree(directory, ignore_errors=True)


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> int:
    """Apply pending migrations."""
    from service.embedded import database_url

    with database_url(settings()) as dsn:
        applied = _upgrade(dsn)
    for m in applied:
        click.echo(f"applied {m.version:04d}_{m.name}")
    if not applied:
        click.echo("up to date")
    return 0


@db.command()
def status() -> int:
    """List applied and pending migrations."""
    from service import migrate
    from service.embedded import database_url

    migrations = _migrations()
    with database_url(settings()) as dsn:
        state = run_with_conn(dsn, lambda conn: migrate.status(conn, migrations))
    for a in state.applied:
        click.echo(f"applied  {a.version:04d}_{a.name}  {a.applied_at.isoformat()}")
    for m in state.pending:
        click.echo(f"pending  {m.version:04d}_{m.name}")
    return 0


@click.group()
def token() -> None:
    """API tokens."""


@token.command()
@click.option("--role", required=True, type=click.Choice(["admin", "agency-admin", "clerk"]))
@click.option("--agency", help="agency code, for agency-admin and clerk")
@click.option("--name", help="what the token is for")
@click.option(
    "--permission", "permissions", multiple=True, type=click.Choice(["my_number:read"]),
    help="grant beyond the role: my_number:read reveals 個人番号 in full (with a reason, audited)",
)  # fmt: skip
def create(role: str, agency: str | None, name: str | None, permissions: tuple[str, ...]) -> int:
    """Issue a token and print it once."""
    import msgspec

    from service.auth import service as auth_service
    from service.auth.schemas import TokenIn
    from service.embedded import database_url

    request = msgspec.convert(
        {"role": role, "agency": agency, "name": name or "", "permissions": list(permissions)}, TokenIn
    )

    async def issue(conn: asyncpg.Connection) -> str:
        async with conn.transaction():
            return (await auth_service.issue_token(conn, request)).token

    with database_url(settings()) as dsn:
        issued = run_with_conn(dsn, issue)
    click.echo(issued)  # alone on stdout, so that scripts can capture it
    return 0


@click.group()
def catalog() -> None:
    """Procedure catalogue."""


@catalog.command()
@click.argument("file")
def load(file: str) -> int:
    """Upsert agencies and procedures from a YAML/JSON file."""
    from service.cli.files import read_catalog
    from service.embedded import database_url

    parsed = read_catalog(Path(file))
    with database_url(settings()) as dsn:
        agencies, procedures = _load(dsn, parsed)
    click.echo(f"loaded {agencies} agencies and {procedures} procedures", err=True)
    return 0


@click.group(name="forms")
def forms_group() -> None:
    """Form schemas."""


@forms_group.command()
@click.argument("files", nargs=-1, required=True)
def check(files: tuple[str, ...]) -> int:
    """Check schema files offline and print every problem."""
    import forms
    from service.cli.files import read_form

    registry = forms.default_components()
    for name in files:
        schema = read_form(Path(name), registry)
        count = sum(1 + len(getattr(f, "fields", ())) for f in schema.fields())
        click.echo(
            f"{name}: ok: {schema.id} for {schema.procedure}, {count} fields, sha256 {forms.fingerprint(schema)}"
        )
    return 0


@forms_group.command()
@click.argument("files", nargs=-1, required=True)
def publish(files: tuple[str, ...]) -> int:
    """Create or update forms from files and publish them."""
    import forms
    from service.cli.files import read_form
    from service.embedded import database_url

    registry = forms.default_components()
    schemas = [read_form(Path(name), registry) for name in files]
    with database_url(settings()) as dsn:
        for line in _publish(dsn, schemas):
            click.echo(line)
    return 0


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command()
def verify() -> int:
    """Walk the hash chain; exit 1 at the first broken link."""
    from service.audit import trail
    from service.embedded import database_url

    with database_url(settings()) as dsn:
        report = run_with_conn(dsn, trail.verify_chain)
    if report.broken_at is not None:
        click.echo(
            f"broken at event {report.broken_at}: {report.count} good events before it, last good hash {report.head}"
        )
        return 1
    click.echo(f"{report.count} events; head {report.head}")
    return 0


@click.command()
def housekeeping() -> int:
    """Delete nonces and idempotency keys past their retention (for cron; the server also does it)."""
    import datetime as dt

    from service.embedded import database_url
    from service.housekeeping import service

    config = settings()
    with database_url(config) as dsn:
        purged = run_with_conn(
            dsn, lambda conn: service.purge(conn, dt.datetime.now(dt.UTC), service.retention(config))
        )
    click.echo(
        f"deleted {purged.nonces} nonces, {purged.idempotency} idempotency keys, {purged.drafts} expired drafts,"
        f" {purged.sign_ins} expired card sign-ins and {purged.rate_limits} spent rate counters"
    )
    return 0


@click.group(name="retention")
def retention_group() -> None:
    """Retention periods (保存期間): purge applications past theirs."""


@retention_group.command(name="run")
@click.option("--dry-run", is_flag=True, help="print what would be purged and change nothing")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"]),
    help="with --dry-run: what a run at this date would purge (default now; dates are Japan time)",
)
def retention_run(dry_run: bool, as_of: dt.datetime | None) -> int:
    """Purge applications past their retention (for cron; the server also does it daily)."""
    from service.embedded import database_url
    from service.retention import purge

    if as_of is not None and not dry_run:
        raise click.UsageError("--as-of only with --dry-run: a real run purges what is due now")
    # A date alone is midnight in Japan, where the periods end (1 April).
    at = dt.datetime.now(dt.UTC) if as_of is None else as_of.replace(tzinfo=as_of.tzinfo or JST)
    config = settings()
    with database_url(config) as dsn:
        report = run_with_conn(
            dsn, lambda conn: purge.run(conn, at, purge.Batches(size=config.retention_batch_size), dry_run=dry_run)
        )
    verb = "would purge" if dry_run else "purged"
    for due in report.purged:
        until = due.retain_until.astimezone(JST).date().isoformat()
        click.echo(
            f"{verb} {', '.join(due.receipt_numbers)} ({due.status}, kept until {until}):"
            f" {due.objects} objects, {due.bytes} bytes"
        )
    click.echo(
        f"{verb} {len(report.purged)} applications ({sum(d.objects for d in report.purged)} objects,"
        f" {sum(d.bytes for d in report.purged)} bytes); {report.held} past retention kept by a legal hold"
        + ("; more are due: run again" if report.more else "")
    )
    return 0


COMMANDS: Final = [serve, db, token, catalog, forms_group, audit, housekeeping, retention_group]
