"""The database to use: ``DATABASE_URL``, or an embedded PostgreSQL kept under the data directory."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from service.settings import Settings

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer


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
        _let_go(server)


# pgserver's internals, touched here and nowhere else (tests/service/test_embedded.py fails if they
# change). pgserver stops PostgreSQL when the last process on its list of the data directory's users
# lets go; one that died without letting go (SIGKILL, a crash) stays listed, and the database then
# outlives every later ``make run``. pgserver (0.1.4) neither prunes the list nor offers a public way
# to, so before letting go we drop the dead under the inter-process lock pgserver itself takes
# around that list (``PostgresServer._lock``; its list is ``global_process_id_list``, a ``DiskList``
# stored in ``<pgdata>/.handle_pids.json``).
def _let_go(server: PostgresServer) -> None:
    with server._lock:
        users = server.global_process_id_list
        try:
            pids = users.get()
        except (OSError, ValueError):  # unreadable: pgserver's own cleanup will say so
            pids = None
        if pids is not None:
            alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
            if alive != pids:
                users.put(alive)
    server.cleanup()


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    if settings.database_url:
        yield settings.database_url
        return
    with embedded_postgres(settings.pgdata) as dsn:
        yield dsn
