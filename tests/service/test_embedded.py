"""The embedded PostgreSQL's adapter over pgserver's internals: it fails here, loudly, if pgserver changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

from service.embedded import embedded_postgres


def test_pgserver_still_has_the_lock_and_the_list_the_adapter_uses() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs without XDG_RUNTIME_DIR, as in service/embedded.py
        from pgserver.postgres_server import PostgresServer
        from pgserver.utils import DiskList

    lock = PostgresServer._lock
    assert callable(getattr(lock, "acquire", None)) and callable(getattr(lock, "release", None)), (
        "pgserver no longer has PostgresServer._lock: see service/embedded.py"
    )
    with lock:  # the inter-process lock pgserver takes around its list of users
        pass
    assert callable(getattr(DiskList, "get", None)) and callable(getattr(DiskList, "put", None))


def test_a_dead_user_does_not_keep_the_database_running(tmp_path: Path) -> None:
    """A process killed while using the data directory stays on pgserver's list; letting go drops it.

    Without the pruning, pgserver would see two users left and leave PostgreSQL running.
    """
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    pgdata = tmp_path / "pgdata"
    with embedded_postgres(pgdata) as dsn:
        assert dsn.startswith("postgresql://")
        users = pgdata / ".handle_pids.json"
        assert json.loads(users.read_text()) == [os.getpid()], "pgserver's list of users moved or changed shape"
        users.write_text(json.dumps([dead_pid, os.getpid()]))
        assert (pgdata / "postmaster.pid").exists()
    assert json.loads(users.read_text()) == []
    assert not (pgdata / "postmaster.pid").exists(), "PostgreSQL outlived its last live user"
