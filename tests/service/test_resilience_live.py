"""A live server under slow clients and a sick database: it answers, and answers 503 in bounded time."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import msgspec
import psutil
import pytest

from service.embedded import embedded_postgres
from tests.forms.helpers import field, schema_data
from tests.service.test_cli import SHINSEI, env_for, free_port, run, wait_ready

#: Small pool and short bounds, so that the tests see each limit quickly.
LIMITS = {
    "SHINSEI_POOL_MIN_SIZE": "1",
    "SHINSEI_POOL_MAX_SIZE": "2",
    "SHINSEI_POOL_ACQUIRE_TIMEOUT_SECONDS": "1",
    "SHINSEI_DB_CONNECT_TIMEOUT_SECONDS": "1",
    "SHINSEI_DB_COMMAND_TIMEOUT_SECONDS": "1.5",
    "SHINSEI_RETRY_AFTER_SECONDS": "7",
    "SHINSEI_BODY_TIMEOUT_SECONDS": "2",
    "SHINSEI_BODY_MIN_RATE_BYTES": "1000",
    "SHINSEI_REVERIFY_SECONDS": "0",
    "SHINSEI_CRL_REFRESH_SECONDS": "0",
}
#: The longest a request may take to fail when the database is sick: acquire, then one command
#: (BEGIN) bound, then the release's bound, and scheduling slack on a busy 2-core machine.
UNAVAILABLE_BOUND_S = 1 + 1.5 + 1.5 + 1.0
VALIDATE = "/api/v1/forms/nta-kaigyo-todoke/versions/1/validate"


class LiveServer:
    def __init__(self, db: str, state: Path, **env: str) -> None:
        self.db, self.state, self.port = db, state, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = state / "server.log"
        state.mkdir(parents=True, exist_ok=True)
        env = env_for(db, SHINSEI_DATA_DIR=str(state), **(LIMITS | env))
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [*SHINSEI, "serve", "--port", str(self.port), "--load-samples"],
                env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
            )  # fmt: skip
        wait_ready(self.base, self.process)

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.log.read_text().splitlines():
            try:
                lines.append(msgspec.json.decode(line))
            except msgspec.DecodeError:
                pytest.fail(f"a log line is not JSON: {line!r}")
        return lines

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def slow_sender(port: int, path: str, length: int) -> socket.socket:
    """A client that announces ``length`` bytes and sends a handful: the body never arrives."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{"
    sock.sendall(head.encode())
    return sock


def timed(call: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()  # type: ignore[operator]
    return response, time.monotonic() - started


@pytest.fixture
def server(db: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(db, tmp_path / "state")
    yield live
    live.stop()


def test_slow_senders_hold_no_database_connection(server: LiveServer) -> None:
    pool = int(LIMITS["SHINSEI_POOL_MAX_SIZE"])
    senders = [slow_sender(server.port, VALIDATE, 4000) for _ in range(2 * pool)]
    senders += [slow_sender(server.port, "/api/v1/submissions", 100_000) for _ in range(pool)]
    time.sleep(0.5)  # they are all inside the server now, each waiting for its body
    answers = {"forms", "catalogue", "readyz", "validate"}
    document = {"form_id": "nta-kaigyo-todoke", "form_version": 1, "answers": {}}
    calls = {
        "forms": lambda: httpx.get(server.base + "/api/v1/forms", timeout=5),
        "catalogue": lambda: httpx.get(server.base + "/api/v1/procedures?limit=3", timeout=5),
        "readyz": lambda: httpx.get(server.base + "/readyz", timeout=5),
        "validate": lambda: httpx.post(server.base + VALIDATE, json=document, timeout=5),
    }
    for name in sorted(answers):
        response, took = timed(calls[name])
        assert took < 1.0, (name, took)
        assert response.status_code in (200, 422), (name, response.text)
    # The slow senders themselves are cut off: 408 with a problem, after the grace they were given.
    for sock in senders:
        sock.settimeout(10)
        reply = b"".join(iter(lambda s=sock: s.recv(65536), b"")).decode(errors="replace")  # until it closes
        assert reply.startswith("HTTP/1.1 408"), reply[:200]
        assert "application/problem+json" in reply
        assert "request-timeout" in reply
        sock.close()


def test_the_header_block_is_limited(server: LiveServer) -> None:
    assert httpx.get(server.base + "/healthz", headers={"X-Padding": "a" * 8_000}).status_code == 200
    for size in (70_000, 8_000_000):  # 8 MB of headers was accepted before
        try:
            status = httpx.get(server.base + "/healthz", headers={"X-Padding": "a" * size}, timeout=10).status_code
        except httpx.RemoteProtocolError:
            status = 0  # closed without an answer: refused all the same
        assert status in (0, 400, 431), size
    assert httpx.get(server.base + "/healthz").status_code == 200


UPLOAD = """
import sys, httpx
url, token, path = sys.argv[1:]
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
created = httpx.post(url, content=open(path, "rb").read(), headers=headers, timeout=60).status_code
published = httpx.post(url + "/t-huge/draft/publish", headers=headers, timeout=60).status_code
print(created, published)
"""


def test_healthz_answers_within_100_ms_while_the_largest_schema_is_read(
    server: LiveServer, db: str, tmp_path: Path
) -> None:
    agency_admin = run(["token", "create", "--role", "agency-admin", "--agency", "MHLW"], env_for(db)).stdout.strip()
    sections = [
        {
            "id": f"s{s}",
            "title": {"ja": "節"},
            "fields": [field(f"f{s}_{i:03d}", "text", max_length=40, required=i % 2 == 0) for i in range(500)],
        }
        for s in range(20)
    ]
    raw = msgspec.json.encode(schema_data(sections=sections) | {"id": "t-huge", "procedure": "mhlw-36-agreement"})
    assert 800_000 < len(raw) < 1_048_576  # 10,000 fields, just within the body limit
    (tmp_path / "schema.json").write_bytes(raw)
    latencies = []
    # The upload comes from another process, so that nothing in this one competes with the probe for the GIL.
    upload = subprocess.Popen(
        [sys.executable, "-c", UPLOAD, server.base + "/api/v1/forms", agency_admin, str(tmp_path / "schema.json")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    with httpx.Client(base_url=server.base) as client:
        while upload.poll() is None:
            response, took = timed(lambda: client.get("/healthz", timeout=5))
            assert response.status_code == 200
            latencies.append(took)
    assert upload.communicate()[0].strip() == "201 200"
    assert len(latencies) > 5  # the upload took long enough to be measured against
    # On a shared 2-core machine the probe itself is sometimes not scheduled for a while; a blocked
    # event loop (6.7 s for this schema before) would fail every probe made meanwhile, not one in ten.
    slow = [t for t in latencies if t >= 0.1]
    assert len(slow) <= len(latencies) // 10, sorted(latencies)[-5:]
    assert max(latencies) < 1.0, sorted(latencies)[-5:]


def test_out_of_connections_and_statement_timeout_are_bounded_503s(db: str, tmp_path: Path) -> None:
    live = LiveServer(
        db, tmp_path / "state", SHINSEI_DB_STATEMENT_TIMEOUT_MS="2500", SHINSEI_DB_COMMAND_TIMEOUT_SECONDS="5"
    )
    try:

        async def hold_lock() -> None:
            conn = await asyncpg.connect(db)
            try:
                async with conn.transaction():
                    await conn.execute("LOCK TABLE procedure IN ACCESS EXCLUSIVE MODE")
                    with concurrent.futures.ThreadPoolExecutor(3) as executor:
                        loop = asyncio.get_running_loop()
                        blocked = [
                            loop.run_in_executor(executor, timed, lambda: httpx.get(live.base + "/api/v1/procedures"))
                            for _ in range(2)  # the pool's two connections, both waiting on the lock
                        ]
                        await asyncio.sleep(0.5)
                        starved = await loop.run_in_executor(
                            executor, timed, lambda: httpx.get(live.base + "/api/v1/agencies", timeout=10)
                        )
                        results.extend([starved, *await asyncio.gather(*blocked)])
            finally:
                await conn.close()

        results: list[tuple[httpx.Response, float]] = []
        asyncio.run(hold_lock())
        (starved, starved_took), *blocked = results
        assert starved.status_code == 503 and starved_took < 1 + 1.0  # the acquire timeout, then 503
        assert starved.headers["retry-after"] == LIMITS["SHINSEI_RETRY_AFTER_SECONDS"]
        for response, took in blocked:  # statement_timeout ended them; the connections stay usable
            assert response.status_code == 503 and 2.5 <= took < 2.5 + 1.5, (response.status_code, took)
        assert httpx.get(live.base + "/api/v1/procedures?limit=1").status_code == 200
    finally:
        live.stop()
    reasons = [line.get("reason") for line in live.log_lines() if line.get("event") == "database_unavailable"]
    assert "pool-exhausted" in reasons and reasons.count("statement-timeout") == 2


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL of this test's own, which it may freeze and stop (never the session's server)."""
    pgdata = tmp_path / "pgdata"
    with embedded_postgres(pgdata) as dsn:
        yield dsn, pgdata


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    return [postmaster, *postmaster.children(recursive=True)]


def pg_ctl(pgdata: Path, *args: str) -> None:
    from pgserver._commands import pg_ctl as run_pg_ctl

    run_pg_ctl(["-w", *args], pgdata=pgdata, user=None if os.geteuid() != 0 else "pgserver", timeout=30)


def storm(base: str, count: int) -> list[tuple[int, float, httpx.Headers, bytes]]:
    """``count`` concurrent database-backed requests: (status, seconds, headers, body) each."""

    def one(i: int) -> tuple[int, float, httpx.Headers, bytes]:
        path = "/api/v1/procedures?limit=2" if i % 2 else "/api/v1/forms/nta-kaigyo-todoke"
        started = time.monotonic()
        response = httpx.get(base + path, timeout=30)
        return response.status_code, time.monotonic() - started, response.headers, response.content

    with concurrent.futures.ThreadPoolExecutor(count) as executor:
        return list(executor.map(one, range(count)))


def assert_unavailable(results: list[tuple[int, float, httpx.Headers, bytes]]) -> None:
    for status, took, headers, body in results:
        assert status == 503, body
        assert took < UNAVAILABLE_BOUND_S, took
        assert headers["content-type"] == "application/problem+json"
        assert headers["retry-after"] == LIMITS["SHINSEI_RETRY_AFTER_SECONDS"]
        assert msgspec.json.decode(body)["type"].endswith("/service-unavailable")


def recovers(base: str, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if httpx.get(base + "/api/v1/procedures?limit=1", timeout=10).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    pytest.fail(f"no recovery within {within} s")


def test_a_frozen_then_stopped_database_is_a_bounded_503_and_recovery_needs_no_restart(
    own_postgres: tuple[str, Path], tmp_path: Path
) -> None:
    dsn, pgdata = own_postgres
    live = LiveServer(dsn, tmp_path / "state")
    try:
        assert httpx.get(live.base + "/api/v1/procedures?limit=1").status_code == 200
        frozen = postgres_processes(pgdata)
        for process in frozen:
            process.send_signal(signal.SIGSTOP)
        try:
            assert_unavailable(storm(live.base, 8))
            response, took = timed(lambda: httpx.get(live.base + "/readyz", timeout=30))
            assert response.status_code == 503
            assert took < UNAVAILABLE_BOUND_S
            assert httpx.get(live.base + "/healthz", timeout=1).status_code == 200  # the process itself is fine
        finally:
            for process in frozen:
                process.send_signal(signal.SIGCONT)
        assert recovers(live.base, 15) < 15

        pg_ctl(pgdata, "stop", "-m", "fast")
        assert_unavailable(storm(live.base, 8))
        from pgserver.postgres_server import get_server

        get_server(pgdata.resolve(), cleanup_mode=None).ensure_postgres_running()
        assert recovers(live.base, 15) < 15
    finally:
        live.stop()
    lines = live.log_lines()  # every line is JSON: asyncpg's pool warning no longer breaks the renderer
    reasons = {line.get("reason") for line in lines if line.get("event") == "database_unavailable"}
    assert reasons & {"timeout", "pool-exhausted"}
    assert reasons & {"connection-lost", "unreachable", "connection-closed", "AdminShutdownError"}
