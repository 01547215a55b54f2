"""The Litestar application, built from settings that are passed in."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Final

import asyncpg
import httpx
import structlog
from asn1crypto import pem, x509
from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from pyhanko.sign.timestamps import HTTPTimeStamper

from forms import ComponentRegistry, default_components
from service import __doc__ as description
from service.agencies.routes import AgencyController
from service.applicants.routes import ApplicantController
from service.audit import trail
from service.audit.routes import audit_head
from service.auth.principal import provide_principal, provide_viewer, refuse_invalid_token
from service.auth.routes import TokenController
from service.body import BoundedBody, request_checks
from service.catalog.routes import ProcedureController
from service.console.routes import SWAGGER_ASSETS, console_router, template_config
from service.db import Database, DatabaseUnavailable, create_pool, provide_conn
from service.drafts.routes import drafts_controller
from service.events.routes import EventController
from service.headers import SecurityHeaders
from service.health.routes import healthz, readyz
from service.housekeeping import service as housekeeping
from service.logs import RequestLog, configure_logging
from service.metrics.collectors import Metrics
from service.metrics.context import current as metrics_context
from service.metrics.routes import metrics_routes
from service.mynumber import documents as my_number_documents
from service.mynumber.keystore import KeyStore
from service.mynumber.master_keys import load_keyring
from service.mynumber.routes import AnswerController
from service.openapi import document_problems
from service.problems import exception_handlers
from service.publishing.cache import CompiledForms
from service.publishing.routes import FormController, provide_compiled_forms
from service.queue.routes import QueueController
from service.receipts.routes import receipt_certificate
from service.retention import purge as retention
from service.retention.routes import RetentionController, by_receipt
from service.review.routes import EvidenceController, ReviewController
from service.services import Clock, Services, provide_services, system_clock
from service.settings import Settings
from service.submissions.attachments import PostgresAttachments
from service.submissions.reverify import reverify_pending
from service.submissions.routes import create_nonce, submissions_controller
from service.trust.fetch import ask_ocsp, fetch_crl
from service.trust.routes import TrustController
from service.trust.service import Verifiers, refresh_crls
from service.webhooks import delivery as webhook_delivery
from service.webhooks.routes import WebhookController
from signing.devca import development_receipt_key
from signing.fonts import Typeface
from signing.receipt_keys import ReceiptKey, receipt_key_from_p12, receipt_key_from_pkcs11

log = structlog.get_logger("shinsei.app")


def load_receipt_key(settings: Settings, closers: list[Callable[[], object]]) -> ReceiptKey:
    """The configured PKCS#11 key or PKCS#12, or (saying so in the log) a development key under ``data_dir``."""
    if settings.receipt_pkcs11_module:
        if not (settings.receipt_pkcs11_token and settings.receipt_pkcs11_key):
            raise ValueError("SHINSEI_RECEIPT_PKCS11_MODULE needs SHINSEI_RECEIPT_PKCS11_TOKEN and _KEY")
        pin = os.environ.get(settings.receipt_pkcs11_pin_env or "", "")
        chain_pem = Path(settings.receipt_chain).read_bytes() if settings.receipt_chain else b""
        chain = [x509.Certificate.load(der) for _, _, der in pem.unarmor(chain_pem, multiple=True)] if chain_pem else []
        key, session = receipt_key_from_pkcs11(
            settings.receipt_pkcs11_module, settings.receipt_pkcs11_token, settings.receipt_pkcs11_key, pin, chain
        )
        closers.append(session.close)
        return key
    if settings.receipt_p12:
        password = os.environ.get(settings.receipt_p12_password_env or "", "")
        return receipt_key_from_p12(Path(settings.receipt_p12).read_bytes(), password.encode() or None)
    key = development_receipt_key(Path(settings.data_dir) / "receipts", algorithm=settings.receipt_key_algorithm)
    log.warning(
        "development_receipt_key",
        detail="no SHINSEI_RECEIPT_P12: receipts are signed by a DEVELOPMENT agency root, not for production",
        root=str(Path(settings.data_dir) / "receipts" / "agency-root.pem"),
    )
    return key


async def prepare_font(typeface: Typeface) -> None:
    """Make the PDFs' font ready before the first receipt asks for it, off the event loop.

    On a new data dir that is seconds of CPU in a child process (instancing the variable font), which
    a shutdown kills; later starts read the kept file. A failure here is logged, not fatal: the first
    PDF tries again and reports its error.
    """
    started = time.perf_counter()
    try:
        await typeface.prepare()
        font = await asyncio.to_thread(typeface.load)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the first PDF meets it again and reports it
        log.warning("font_preparation_failed", error=type(exc).__name__, detail=str(exc))
        return
    log.info("font_ready", path=str(font.path), seconds=round(time.perf_counter() - started, 2))


#: What a background job may meet and survive: the database or the network unwell for a while.
_TRANSIENT: Final = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, DatabaseUnavailable)


async def periodically(
    name: str,
    interval: float,
    job: Callable[[], Awaitable[None]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Run ``job`` every ``interval`` seconds (0: never); a transient failure is logged, never fatal."""
    if interval <= 0:
        return
    while True:
        await sleep(interval)
        try:
            await job()
        except _TRANSIENT as exc:
            log.warning(f"{name}_failed", error=type(exc).__name__)


async def refresh_crls_periodically(database: Database, interval: int) -> None:
    """Fetch CRLs from the anchors' URLs every ``interval`` seconds (0: never)."""

    async def job() -> None:
        async with database.connection() as conn:
            outcomes = await refresh_crls(conn, fetch_crl, dt.datetime.now(dt.UTC))
        log.info("crl_refresh", outcomes=outcomes)

    await periodically("crl_refresh", interval, job)


async def reverify_periodically(
    database: Database, verifiers: Verifiers, settings: Settings, keys: KeyStore | None = None
) -> None:
    """Judge again the signatures that wait for revocation data or its confirmation (0: never)."""

    async def job() -> None:
        async with database.transaction() as conn:
            outcome = await reverify_pending(
                conn,
                await verifiers.current(conn),
                dt.datetime.now(dt.UTC),
                accept_test=settings.env == "development",
                grace=dt.timedelta(seconds=settings.confirmation_grace_seconds),
                keys=keys,
            )
        log.info("reverification", **outcome)

    await periodically("reverification", settings.reverify_seconds, job)


async def seal_periodically(database: Database, interval: float) -> None:
    """Seal committed audit events into the chain every ``interval`` seconds (0: never); one sealer at a time."""

    async def job() -> None:
        async with database.connection() as conn:
            await trail.seal(conn)

    await periodically("audit_seal", interval, job)


async def purge_my_numbers_periodically(database: Database, interval: int) -> None:
    """Purge 個人番号 past their procedure's ``my_number.retain_days``, with housekeeping's interval (0: never)."""

    async def job() -> None:
        async with database.connection() as conn:
            purged = await my_number_documents.purge_due(conn, dt.datetime.now(dt.UTC))
        log.info("my_number_purge", revisions=purged)

    await periodically("my_number_purge", interval, job)


def load_my_number_keys(settings: Settings, database: Database) -> KeyStore:
    """The 個人番号 key store over the configured master keys; the log says when there are none or only dev ones."""
    keyring = load_keyring(settings)
    if keyring is None:
        log.warning(
            "my_number_key_missing",
            detail="no SHINSEI_MY_NUMBER_MASTER_KEY_FILE: forms with a my_number field take no submissions",
        )
    elif not settings.my_number_master_key_file:
        log.warning("development_my_number_key", detail="個人番号 are encrypted under a DEVELOPMENT master key")
    return KeyStore(keyring, database.transaction)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def housekeep_periodically(
    database: Database,
    settings: Settings,
    metrics: Metrics,
    clock: Callable[[], dt.datetime] = _utcnow,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Delete what is past its retention or expiry every ``housekeeping_seconds`` (0: never).

    Every worker runs it; their batches skip each other's locked rows, so running twice costs little.
    ``clock`` and ``sleep`` are passed in so that a test can move time instead of waiting for it.
    """
    retention = housekeeping.retention(settings)

    async def job() -> None:
        async with database.connection() as conn:
            purged = await housekeeping.purge(conn, clock(), retention)
        for table, count in (
            ("nonce", purged.nonces), ("idempotency", purged.idempotency), ("draft", purged.drafts),
            ("applicant_sign_in", purged.sign_ins), ("rate_limit", purged.rate_limits),
        ):  # fmt: skip
            metrics.housekeeping_deleted.labels(table=table).inc(count)
        log.info(
            "housekeeping", nonces=purged.nonces, idempotency_keys=purged.idempotency, drafts=purged.drafts,
            sign_ins=purged.sign_ins, rate_limits=purged.rate_limits,
        )  # fmt: skip

    await periodically("housekeeping", settings.housekeeping_seconds, job, sleep)


async def retain_periodically(
    database: Database,
    settings: Settings,
    clock: Callable[[], dt.datetime] = _utcnow,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Purge applications past their retention every ``retention_seconds`` (0: never).

    Every worker runs it; a batch locks its applications with SKIP LOCKED, so two runs never purge
    the same one. ``clock`` and ``sleep`` are passed in so that a test can move time.
    """
    batches = retention.Batches(size=settings.retention_batch_size)

    async def job() -> None:
        async with database.connection() as conn:
            report = await retention.run(conn, clock(), batches)
        # Receipt numbers and counts only: the log never carries an application's content.
        log.info(
            "retention", purged=len(report.purged), held=report.held, more=report.more,
            receipt_numbers=[n for due in report.purged for n in due.receipt_numbers][:100],
        )  # fmt: skip

    await periodically("retention", settings.retention_seconds, job, sleep)


async def deliver_webhooks_periodically(
    database: Database, settings: Settings, client: httpx.AsyncClient, clock: Callable[[], dt.datetime] = _utcnow
) -> None:
    """Send the due webhook deliveries every ``webhook_seconds`` (0: never in this process)."""

    async def job() -> None:
        outcome = await webhook_delivery.deliver_due(database, client, settings, clock)
        if any(outcome.values()):
            log.info("webhook_delivery", **outcome)

    await periodically("webhook_delivery", settings.webhook_seconds, job)


def app_from_environment() -> Litestar:
    """The app of one worker process (``shinsei serve --workers N``, or any ASGI server's ``--factory``).

    Settings come from the environment, read once here; ``DATABASE_URL`` must be set (``serve`` sets
    it to the embedded database's for its workers).
    """
    import gc
    import sys

    settings = Settings.from_env(os.environ)
    configure_logging(settings)
    app = create_app(settings)
    # As `shinsei serve` does for one process (service/cli/operator.py): the loop stays responsive
    # while worker threads do CPU work, and start-up objects stay out of the collector's view.
    sys.setswitchinterval(0.001)
    gc.freeze()
    return app


def create_app(
    settings: Settings, components: ComponentRegistry | None = None, clock: Clock = system_clock
) -> Litestar:
    """Build the app; ``settings.database_url`` must name the database (the CLI resolves it).

    ``components`` are the form field types (``forms.default_components()`` unless given); ``clock``
    is what the routes take as now (a test may fix it).
    """
    dsn = settings.database_url
    if not dsn:
        raise ValueError("create_app needs settings.database_url; the CLI starts the embedded database")
    metrics = Metrics(settings.prometheus_multiproc_dir)

    def provide_settings() -> Settings:
        return settings

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings, dsn)
        app.state.database = Database(app.state.pool, settings)
        closers: list[Callable[[], object]] = []
        services = Services(
            settings=settings,
            compiled_forms=CompiledForms(components or default_components()),
            verifiers=Verifiers(settings.trust_recheck_seconds, observer=metrics),
            receipt_key=load_receipt_key(settings, closers),
            attachments=PostgresAttachments(),
            typeface=Typeface(Path(settings.data_dir) / "fonts"),
            metrics=metrics,
            ask_ocsp=functools.partial(ask_ocsp, wait_seconds=settings.ocsp_timeout_seconds),
            timestamper=(
                HTTPTimeStamper(settings.tsa_url, timeout=settings.tsa_timeout_seconds) if settings.tsa_url else None
            ),
            clock=clock,
            my_number=load_my_number_keys(settings, app.state.database),
        )
        app.state.services = services
        app.state.settings = settings
        app.state.webhook_client = webhook_delivery.http_client(settings)
        closers_async = [app.state.webhook_client.aclose]
        # The background jobs below copy this context when they are created: their audit events count.
        metrics_context.set(metrics)
        tasks = [
            asyncio.create_task(prepare_font(services.typeface)),
            asyncio.create_task(refresh_crls_periodically(app.state.database, settings.crl_refresh_seconds)),
            asyncio.create_task(
                reverify_periodically(app.state.database, services.verifiers, settings, services.my_number)
            ),
            asyncio.create_task(seal_periodically(app.state.database, settings.audit_seal_seconds)),
            asyncio.create_task(housekeep_periodically(app.state.database, settings, metrics)),
            asyncio.create_task(retain_periodically(app.state.database, settings, clock)),
            asyncio.create_task(
                deliver_webhooks_periodically(app.state.database, settings, app.state.webhook_client, services.clock)
            ),
            asyncio.create_task(purge_my_numbers_periodically(app.state.database, settings.housekeeping_seconds)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for close in closers:
                close()
            for aclose in closers_async:
                await aclose()
            await app.state.pool.close()

    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            AgencyController,
            ProcedureController,
            FormController,
            TokenController,
            TrustController,
            receipt_certificate,
            create_nonce,
            audit_head,
            QueueController,
            submissions_controller(settings),
            drafts_controller(settings),
            ApplicantController,
            ReviewController,
            EvidenceController,
            RetentionController,
            by_receipt,
            EventController,
            WebhookController,
            AnswerController,
            *metrics_routes(settings),
            console_router(settings),
        ],
        dependencies={
            "conn": Provide(provide_conn),
            "principal": Provide(provide_principal, sync_to_thread=False),
            "viewer": Provide(provide_viewer),
            "compiled_forms": Provide(provide_compiled_forms, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False, use_cache=True),
            "services": Provide(provide_services, sync_to_thread=False),
        },
        middleware=[
            DefineMiddleware(
                BoundedBody,
                timeout=settings.body_timeout_seconds,
                min_rate=settings.body_min_rate_bytes,
                max_header_bytes=settings.max_header_bytes,
            )
        ],
        guards=[refuse_invalid_token],
        before_request=request_checks(settings.max_json_depth),
        exception_handlers=exception_handlers(settings.problem_base_url, settings.retry_after_seconds),
        lifespan=[database],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="shinsei",
            version=version("shinsei"),
            description=description,
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/", **SWAGGER_ASSETS)],
        ),
        template_config=template_config(),
        logging_config=None,
        debug=False,
    )
    # Litestar runs middleware only for matched routes; the request log must see 404s and 405s too,
    # so it wraps the outermost handler. `asgi_handler` is a public attribute of Litestar.
    methods: dict[str, set[str]] = {}
    for route in app.routes:
        methods.setdefault(route.path_format, set()).update(route.methods)
    allow = {template: ", ".join(sorted(names)).encode() for template, names in methods.items()}
    app.asgi_handler = RequestLog(SecurityHeaders(app.asgi_handler, allow), metrics)
    app.state.metrics = metrics
    document_problems(app)
    return app
