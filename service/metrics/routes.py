"""``GET /metrics``: Prometheus text, off unless ``SHINSEI_METRICS`` says who may read it."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily, Metric

from service.auth.principal import authenticate, require_role
from service.db import Conn
from service.metrics import queries
from service.metrics.collectors import Metrics
from service.settings import Settings


async def database_metrics(conn: asyncpg.Connection, pool: asyncpg.Pool) -> list[Metric]:
    """Gauges read at scrape time: they describe the shared database, so every worker reports the same."""
    pending = await queries.pending_signatures(conn)
    signatures = GaugeMetricFamily("shinsei_signatures_pending", "Revisions whose signatures wait for revocation data.")
    signatures.add_metric([], pending.count)
    oldest = GaugeMetricFamily(
        "shinsei_signatures_pending_oldest_seconds", "Age of the oldest revision still waiting (0: none waits)."
    )
    oldest.add_metric([], pending.oldest_seconds)
    depth = GaugeMetricFamily(
        "shinsei_queue_depth", "Open submissions per agency and status.", labels=["agency", "status"]
    )
    for row in await queries.queue_depth(conn):
        depth.add_metric([row.agency, row.status], row.depth)
    age = GaugeMetricFamily(
        "shinsei_crl_age_seconds", "Age of each anchor's newest CRL (since its thisUpdate).", labels=["anchor", "class"]
    )
    due = GaugeMetricFamily(
        "shinsei_crl_next_update_seconds",
        "Seconds until each anchor's newest CRL reaches its nextUpdate; negative once it is stale.",
        labels=["anchor", "class"],
    )
    for crl in await queries.crl_freshness(conn):
        age.add_metric([crl.anchor, crl.certificate_class], crl.age_seconds)
        if crl.next_update_in_seconds is not None:
            due.add_metric([crl.anchor, crl.certificate_class], crl.next_update_in_seconds)
    connections = GaugeMetricFamily(
        "shinsei_db_pool_connections", "This worker's pool: connections in use and idle.", labels=["state"]
    )
    idle = pool.get_idle_size()
    connections.add_metric(["in_use"], pool.get_size() - idle)
    connections.add_metric(["idle"], idle)
    limit = GaugeMetricFamily("shinsei_db_pool_max_connections", "This worker's pool size limit.")
    limit.add_metric([], pool.get_max_size())
    return [signatures, oldest, depth, age, due, connections, limit]


async def _scrape(request: Request[Any, Any, Any], conn: asyncpg.Connection) -> Response[bytes]:
    metrics: Metrics = request.app.state.metrics
    body = metrics.exposition(await database_metrics(conn, request.app.state.pool))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@get("/metrics", include_in_schema=False, guards=[authenticate])
async def _admin_metrics(request: Request[Any, Any, Any], conn: Conn) -> Response[bytes]:
    require_role(request.state.principal, "admin")
    return await _scrape(request, conn)


@get("/metrics", include_in_schema=False)
async def _open_metrics(request: Request[Any, Any, Any], conn: Conn) -> Response[bytes]:
    return await _scrape(request, conn)


def metrics_routes(settings: Settings) -> list[HTTPRouteHandler]:
    """``off``: no route (404). ``admin``: an admin's bearer token. ``open``: anyone who reaches the port."""
    return {"off": [], "admin": [_admin_metrics], "open": [_open_metrics]}[settings.metrics]
