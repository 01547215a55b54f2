"""Which ASGI server serves shinsei's intake faster: uvicorn (what ``shinsei serve`` runs) or granian.

The same app (``service.app:app_from_environment``), the same worker count, the same embedded
PostgreSQL and the same pre-signed bodies, each sent once, driven by ``wrk`` as in ``bench/ingest.py``;
the two servers run interleaved in rounds. Printed: submissions/s, p50, p99 and server CPU per
submission for each, and granian's rate as a share of uvicorn's. ``SERVERS_WORKERS`` (default 1),
``SERVERS_ROUNDS`` (2), ``INGEST_SECONDS`` and ``INGEST_CONNECTIONS`` scale it. granian is installed
into this interpreter's environment when missing (it is not a dependency of shinsei).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import ingest
from service.embedded import embedded_postgres

WORKERS = int(os.environ.get("SERVERS_WORKERS", "1"))
ROUNDS = int(os.environ.get("SERVERS_ROUNDS", "2"))
#: Enough that no run sends a body twice at a few hundred a second (``INGEST_SECONDS`` 3).
BODIES = int(os.environ.get("SERVERS_BODIES", "6000"))


def ensure_granian() -> None:
    if importlib.util.find_spec("granian") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "granian"], check=True)


def commands(port: int) -> dict[str, list[str]]:
    app = "service.app:app_from_environment"
    host, workers = ["--host", "127.0.0.1", "--port", str(port)], ["--workers", str(WORKERS)]
    return {
        "uvicorn": [sys.executable, "-m", "uvicorn", app, "--factory", *host, *workers, "--log-level", "warning"],
        "granian": [
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory", *host, *workers,
            "--log-level", "warning", app,
        ],
    }  # fmt: skip


def main() -> None:
    binary = ingest.ensure_wrk()
    ensure_granian()
    tmp = Path(tempfile.mkdtemp())
    with embedded_postgres(tmp / "pgdata") as dsn:
        ingest.DSN = dsn
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSEI_")} | {
            "DATABASE_URL": dsn, "SHINSEI_DATA_DIR": str(tmp / "state"), "SHINSEI_LOG_LEVEL": "warning",
            "SHINSEI_REVERIFY_SECONDS": "0", "SHINSEI_CRL_REFRESH_SECONDS": "0",
        }  # fmt: skip
        subprocess.run([sys.executable, "-m", "service", "db", "upgrade"], env=env, capture_output=True, check=True)
        admin = subprocess.run(
            [sys.executable, "-m", "service", "token", "create", "--role", "admin"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        ingest.trust(env, admin.stdout.strip())  # also loads the sample forms
        port = ingest.free_port()
        base = f"http://127.0.0.1:{port}"
        servers = commands(port)
        runs: dict[str, list[ingest.Run]] = {name: [] for name in servers}
        bodies_dir = tmp / "bodies"
        bodies_dir.mkdir()
        first = ingest.start(servers["uvicorn"], env, base)
        try:
            print(f"signing {BODIES} applications (each with its own nonce) ...", file=sys.stderr)
            bodies = ingest.sign_bodies(base, BODIES, bodies_dir)
        finally:
            first.send_signal(signal.SIGINT)
            first.wait(timeout=30)
        chunk = BODIES // (ROUNDS * len(servers))
        for r in range(ROUNDS):
            for s, (name, command) in enumerate(servers.items()):
                directory = tmp / f"{name}-{r}"
                directory.mkdir()
                start = (r * len(servers) + s) * chunk
                for i, body in enumerate(bodies[start : start + chunk]):
                    (directory / f"{i}.bin").write_bytes(body)
                server = ingest.start(command, env, base)
                try:
                    runs[name].append(
                        ingest.measured(binary, base + "/api/v1/submissions", directory, chunk, server.pid, dsn)
                    )
                finally:
                    server.send_signal(signal.SIGINT)
                    server.wait(timeout=30)
    print(f"\n  shinsei intake, {WORKERS} worker(s); wrk, {ingest.CONNECTIONS} connections, {ROUNDS} rounds")
    print(f"  {'server':<10}{'per s':>8}{'p50 ms':>8}{'p99 ms':>8}{'app CPU':>9}")
    best = {name: max(found, key=lambda run: run.rate) for name, found in runs.items()}
    for name, run in best.items():
        print(f"  {name:<10}{run.rate:>8,.0f}{run.p50_ms:>8.1f}{run.p99_ms:>8.1f}{run.server_cpu_ms:>8.2f}m")
        if run.other or run.reused:
            print(f"    ({run.other} answers other than 201, {run.reused} bodies sent twice)")
    for r in range(ROUNDS):
        print("    round " + str(r + 1) + ": " + ", ".join(f"{n} {runs[n][r].rate:,.0f}/s" for n in runs))
    print(f"  granian serves {best['granian'].rate / best['uvicorn'].rate:.0%} of uvicorn's rate")


if __name__ == "__main__":
    main()
