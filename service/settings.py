"""Settings: read from the environment once, then passed in; never read at import time."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Final, Literal

import msgspec

#: Environment variables are ``SHINSEI_<FIELD>``; ``DATABASE_URL`` keeps its conventional name.
ENV_PREFIX: Final = "SHINSEI_"
#: Files that ship inside the package, read through importlib.resources so that an installed wheel
#: finds them as a source checkout does. The top-level ``migrations/`` folder is mapped into the
#: wheel as ``service.migrations`` (setup.py).
MIGRATIONS_DIR: Final = resources.files("service.migrations")
SAMPLE_CATALOG: Final = resources.files("service.samples") / "catalog.yaml"
SAMPLE_FORMS: Final = resources.files("service.samples.forms")


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    database_url: str | None = None
    """PostgreSQL DSN (``DATABASE_URL``). Unset: an embedded PostgreSQL under ``data_dir``."""

    env: Literal["development", "production"] = "production"
    """``development`` (what ``make run`` uses) accepts test anchors such as ``shinsei dev card``'s;
    ``production`` refuses them."""

    data_dir: str = ".shinsei"
    """Where local state lives: the embedded database (``pgdata/``), the development receipt key and CA,
    and the PDFs' font (``fonts/``, made once from the shipped variable font)."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    """Worker processes of ``shinsei serve``; above 1, metrics are added up across them (multiprocess mode)."""

    problem_base_url: str = "https://shinsei.example/problems/"
    """Prefix of every problem ``type``; the slug after it is stable and listed in docs/problems.md."""

    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1_048_576
    """Default limit on a request body; endpoints that take uploads set their own."""

    max_document_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1_048_576
    """Limit on the signed document (and on each signature) of a submission."""
    max_file_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 20 * 1_048_576
    """Limit on each attached file."""
    max_submission_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 50 * 1_048_576
    """Limit on a whole submission request."""
    nonce_lifetime_seconds: Annotated[int, msgspec.Meta(ge=60)] = 86_400
    reverify_seconds: Annotated[int, msgspec.Meta(ge=0)] = 300
    """How often signatures waiting for revocation data are judged again; 0 turns it off."""

    pool_min_size: Annotated[int, msgspec.Meta(ge=0)] = 1
    pool_max_size: Annotated[int, msgspec.Meta(ge=1)] = 10
    pool_acquire_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    """How long a request waits for a free database connection before it answers 503."""
    db_connect_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    """How long opening a new database connection may take."""
    db_command_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Client-side bound on every statement, BEGIN and COMMIT included: a frozen server holds a request no longer."""
    db_statement_timeout_ms: Annotated[int, msgspec.Meta(ge=0)] = 8_000
    """PostgreSQL ``statement_timeout`` of the pool's sessions (0: none); below the command timeout, so the
    server gives up first and the connection stays usable."""
    db_idle_in_transaction_timeout_ms: Annotated[int, msgspec.Meta(ge=0)] = 30_000
    """PostgreSQL ``idle_in_transaction_session_timeout`` (0: none): a transaction left open is ended by the server."""
    retry_after_seconds: Annotated[int, msgspec.Meta(ge=1)] = 5
    """The ``Retry-After`` of a 503 when the database is down, frozen or out of connections."""

    body_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Grace for reading a request body: the first bytes must come within it, and it is added to the
    time the minimum rate allows."""
    body_min_rate_bytes: Annotated[int, msgspec.Meta(ge=1)] = 16_384
    """Minimum average upload rate (bytes per second) after the grace; a slower body is refused with 408."""
    max_header_bytes: Annotated[int, msgspec.Meta(ge=4096)] = 65_536
    """Limit on a request's header block; more is refused with 431, and a head still arriving past it also closes
    the connection (``service/http_server.py``)."""
    max_json_depth: Annotated[int, msgspec.Meta(ge=8, le=512)] = 64
    """Deepest nesting accepted in a JSON or YAML body, document or form schema."""

    log_level: str = "info"
    log_format: str = "json"
    """``json`` (one object per line, the default) or ``console`` for a human at a terminal."""

    receipt_key_algorithm: Literal["ecdsa-p256", "rsa-2048"] = "ecdsa-p256"
    """The development receipt key's algorithm, when it is made under ``data_dir`` (a configured PKCS#12
    or PKCS#11 key is used as it is, RSA or ECDSA)."""

    receipt_p12: str | None = None
    """PKCS#12 with the agency's receipt key and chain. Unset: a development key under ``data_dir``."""

    receipt_p12_password_env: str | None = None
    """Name of the environment variable holding that file's password (the password is not a setting)."""

    receipt_pkcs11_module: str | None = None
    """A PKCS#11 module holding the receipt key instead (an HSM); with the three settings below."""
    receipt_pkcs11_token: str | None = None
    receipt_pkcs11_key: str | None = None
    """Label of the key, and of its certificate on the token."""
    receipt_pkcs11_pin_env: str | None = None
    receipt_chain: str | None = None
    """PEM file with the CA certificates above the receipt certificate, root last (PKCS#11 only)."""

    my_number_master_key_file: str | None = None
    """File of master keys (base64, one a line, the current one first) wrapping the agencies' 個人番号 data
    keys. Unset: in development a key made under ``data_dir/keys``; in production none, and forms with a
    ``my_number`` field take no submissions (503) until it is set."""

    tsa_url: str | None = None
    """An RFC 3161 time-stamping service. Set: receipts, decision notices and every applicant signature
    (CAdES-T, its time the signature's proof of existence) are time-stamped; unset: none are."""
    tsa_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0

    confirmation_grace_seconds: Annotated[int, msgspec.Meta(ge=0)] = 0
    """Revocation data confirms a signature when issued this long after the nonce the applicant signed."""
    ocsp_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3.0
    """How long intake waits for an OCSP responder when a procedure requires confirmed revocation."""

    trust_recheck_seconds: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    """How stale intake's view of the trust store may be: a new CRL or anchor counts within this time."""

    audit_seal_seconds: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    """How often committed audit events are sealed into the hash chain; 0 leaves it to ``audit verify``
    and the published head (both seal first)."""

    crl_refresh_seconds: Annotated[int, msgspec.Meta(ge=0)] = 3600
    """How often to fetch CRLs from the anchors' configured URLs; 0 turns the refresh off."""

    housekeeping_seconds: Annotated[int, msgspec.Meta(ge=0)] = 3600
    """How often the server deletes nonces and idempotency keys past their retention; 0: never (use cron)."""
    nonce_retention_seconds: Annotated[int, msgspec.Meta(ge=0)] = 86_400
    """How long a nonce is kept after it was used or expired (nonces that a revision names are kept for ever)."""
    idempotency_retention_seconds: Annotated[int, msgspec.Meta(ge=0)] = 86_400
    """How long an ``Idempotency-Key`` is remembered: a retry within it gets the first reply again."""
    housekeeping_batch_size: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
    """Rows deleted per transaction, so that a large backlog never holds intake up."""

    retention_seconds: Annotated[int, msgspec.Meta(ge=0)] = 86_400
    """How often the server purges applications past their retention period (daily); 0: never (use cron
    with ``shinsei retention run``)."""
    retention_batch_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20
    """Applications purged per transaction: each holds their row locks and deletes up to
    ``max_submission_bytes`` of files apiece, so a batch stays short and small."""

    metrics: Literal["off", "admin", "open"] = "off"
    """``GET /metrics``: ``off`` (404), ``admin`` (an admin's bearer token), ``open`` (anyone who reaches the port)."""

    prometheus_multiproc_dir: str | None = None
    """``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's own name): set, every worker's metrics are added up."""

    console_session_seconds: Annotated[int, msgspec.Meta(ge=60)] = 8 * 3600
    """How long a console sign-in lasts (it also ends at sign-out and when its token is revoked)."""

    draft_lifetime_days: Annotated[int, msgspec.Meta(ge=1, le=366)] = 30
    """How long an applicant's draft is kept after its last change; expired drafts are purged."""

    applicant_session_seconds: Annotated[int, msgspec.Meta(ge=60, le=86_400)] = 900
    """How long a card sign-in (利用者証明用電子証明書) session lasts."""

    rate_limit_per_minute: Annotated[float, msgspec.Meta(ge=0, le=60_000)] = 20.0
    """Draft creation and card sign-in challenges: sustained requests a minute per client address, each
    endpoint counted on its own and across all processes (0: no limit). Over it, 429 with Retry-After."""
    rate_limit_burst: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 40
    """...and how many a client address may make at once before the sustained rate applies."""
    webhook_seconds: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    """How often this process's delivery worker looks for due webhook deliveries; 0: no worker here."""
    webhook_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    """Time limit of one delivery request, connection included; no answer in time is a failed attempt."""
    webhook_max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 12
    """Attempts before a delivery is dead (kept in its endpoint's history; ``.../retry`` sends it again)."""
    webhook_backoff_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    """Wait after the first failed attempt; it doubles with each further one (with jitter)."""
    webhook_backoff_max_seconds: Annotated[float, msgspec.Meta(gt=0)] = 6 * 3600.0
    """The longest wait between two attempts."""
    webhook_batch_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 50
    """Deliveries one worker claims and sends concurrently at a time."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping (``os.environ`` in production, a dict in tests)."""
        values: dict[str, str] = {}
        for name in cls.__struct_fields__:
            key = ENV_PREFIX + name.upper()
            if key in environ and name != "prometheus_multiproc_dir":
                values[name] = environ[key]
        if environ.get("DATABASE_URL"):
            values["database_url"] = environ["DATABASE_URL"]
        # Only under prometheus_client's own name: the library reads that variable itself when it is
        # imported, and a SHINSEI_ twin it does not read would make scrapes look in an empty folder.
        if environ.get("PROMETHEUS_MULTIPROC_DIR"):
            values["prometheus_multiproc_dir"] = environ["PROMETHEUS_MULTIPROC_DIR"]
        return msgspec.convert(values, cls, strict=False)

    @property
    def pgdata(self) -> Path:
        return Path(self.data_dir) / "pgdata"
