"""The app's Prometheus metrics: counted as things happen, or read from the database at each scrape.

Labels carry routes, procedure ids, problem slugs, indications, agency codes and anchor ids: never
a path with an id in it, a name, or anything an applicant typed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from signing.report import VerificationReport

# prometheus_client leaves these two unannotated; given here the types they have, they are typed calls.
_disable_created_metrics: Final[Callable[[], None]] = disable_created_metrics
#: Reads every worker's files at collection time; registering it on a registry is all it takes.
_collect_worker_files: Final[Callable[[CollectorRegistry, str], object]] = MultiProcessCollector

#: Seconds; from a cached verification (milliseconds) to a receipt signed on a slow HSM.
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The audit append waits for the chain's lock; anything past 100 ms is contention.
AUDIT_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    """One app's counters and histograms.

    Single process: a registry of its own, so that two apps in one process (the tests) count apart.
    Several workers (``multiprocess_dir`` set, as ``PROMETHEUS_MULTIPROC_DIR``, before the first
    import of prometheus_client): every worker writes its values to files there, and a scrape of
    any worker adds up all of them.
    """

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        # A ``*_created`` timestamp per counter and histogram child doubles the series for nothing an
        # alert uses (the text format's scrapers work from resets). prometheus_client keeps this
        # switch process-wide; setting it again is harmless.
        _disable_created_metrics()
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        # In multiprocess mode the values live in files; registering them as well would count them twice.
        registry = None if multiprocess_dir else self.registry
        self.requests = Counter(
            "shinsei_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=registry
        )
        self.request_seconds = Histogram(
            "shinsei_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.submissions = Counter(
            "shinsei_submissions",
            "Submissions (and amendments) by procedure and outcome: accepted, pending, or the problem slug.",
            ["procedure", "outcome"],
            registry=registry,
        )
        self.verifications = Counter(
            "shinsei_verifications",
            "Signature verifications by ETSI indication and sub-indication (intake, withdrawals, re-verification).",
            ["indication", "sub_indication"],
            registry=registry,
        )
        self.verifier_cache = Counter(
            "shinsei_verifier_cache_lookups",
            "Certificate assessments asked of the verifier's cache: hit or miss.",
            ["result"],
            registry=registry,
        )
        self.audit_append_seconds = Histogram(
            "shinsei_audit_append_duration_seconds",
            "Time to append one audit event, waiting for the chain's lock included.",
            buckets=AUDIT_BUCKETS,
            registry=registry,
        )
        self.housekeeping_deleted = Counter(
            "shinsei_housekeeping_deleted_rows",
            "Rows deleted by housekeeping: used or expired nonces, expired idempotency keys.",
            ["table"],
            registry=registry,
        )

    def cache_lookup(self, hit: bool) -> None:
        self.verifier_cache.labels(result="hit" if hit else "miss").inc()

    def verified(self, report: VerificationReport) -> None:
        self.verifications.labels(indication=report.indication, sub_indication=report.sub_indication or "").inc()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.request_seconds.labels(method=method, route=route).observe(seconds)

    @contextmanager
    def audit_append(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.audit_append_seconds.observe(time.perf_counter() - started)

    def exposition(self, database: list[Metric]) -> bytes:
        """The text format: what was counted (every worker's, in multiprocess mode), then ``database``."""
        counted = self.registry
        if self.multiprocess_dir:
            counted = CollectorRegistry()
            _collect_worker_files(counted, self.multiprocess_dir)
        read = CollectorRegistry()
        read.register(_Fixed(database))
        return generate_latest(counted) + generate_latest(read)


class _Fixed:
    """A collector that yields metrics already read (from the database, for this one scrape)."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics
