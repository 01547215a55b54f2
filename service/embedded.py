"""The database to use: ``DATABASE_URL``, or an embedded PostgreSQL kept under the data directory."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import psutil

from service.settings import Settings


@contextlib.contextmanager
def embedded_postgres(pgdata: Path) -> Iterator[str]:
    """Start (or join) a pgserver instance on ``pgdata`` and yield its DSN.

    pgserver keeps a list of the processes using the data directory and stops PostgreSQL when
    the last one lets go, so ``shinsei token create`` can run beside a running ``make run``.
    """
    pgdata.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); its /tmp fallback is fine.
        warnings.simplefilter("ignore")
        # Imported here: only the embedded-database path needs pgserver (and the import warns).
        from pgserver.postgres_server import get_server

        server = get_server(pgdata.resolve(), cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        with server._lock:  # pgserver's own inter-process lock around its list of handles
            _forget_dead_handles(pgdata.resolve())
        server.cleanup()


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that no longer exist from pgserver's list of the data directory's users.

    pgserver stops PostgreSQL when the last listed process lets go; one that died without letting
    go (SIGKILL, a crash) stays listed, and the database then outlives every later ``make run``.
    pgserver (0.1.4) does not prune the list itself, so we do, just before letting go ourselves.
    """
    path = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    if settings.database_url:
        yield settings.database_url
        return
    with embedded_postgres(settings.pgdata) as dsn:
        yield dsn
