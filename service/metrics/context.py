"""The current app's metrics, for code far from the route (kept apart: prometheus_client is slow to import)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.metrics.collectors import Metrics

#: Set by the request wrapper and the background jobs of an app. The audit trail is appended from
#: twenty places, none of which should carry the metrics around; the CLI and bare tests have none.
current: contextvars.ContextVar[Metrics | None] = contextvars.ContextVar("shinsei_metrics", default=None)


@contextmanager
def audit_append() -> Iterator[None]:
    """Time an audit append for the current app's metrics, if there is an app."""
    metrics = current.get()
    if metrics is None:
        yield
        return
    with metrics.audit_append():
        yield
