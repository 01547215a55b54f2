"""The `shinsei` command as a user runs it: real processes, a real socket, real logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

SHINSEI = [sys.executable, "-m", "service"]


def env_for(dsn: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("SHINSEI_")}
    if dsn:
        env["DATABASE_URL"] = dsn
    return env | extra


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHINSEI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_token_create_prints_the_token_alone(db: str) -> None:
    result = run(["token", "create", "--role", "admin", "--name", "ops"], env_for(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("shs_")


def test_token_create_refuses_a_clerk_without_agency(db: str) -> None:
    result = run(["token", "create", "--role", "clerk"], env_for(db))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "agency is required for this role" in result.stderr


def test_catalog_load_reports_every_problem(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text(
        "agencies:\n  - {code: bad code, name_ja: x}\nprocedures:\n"
        "  - {id: x, agency: MHLW, name_ja: a, name_en: b, legal_basis: c,\n"
        "     legacy: {paper: true, seal: maybe, in_person: false}, reform: {status: abolished}}\n"
    )
    result = run(["catalog", "load", str(bad)], env_for(db))
    assert result.returncode == 1
    assert "3 problem(s)" in result.stderr
    assert "/agencies/0/code: pattern" in result.stderr
    assert "/agencies/0/name_en: required" in result.stderr
    assert "/procedures/0/legacy/seal: choice" in result.stderr


def test_db_commands_on_the_embedded_database(tmp_path: Path) -> None:
    env = env_for(None, SHINSEI_DATA_DIR=str(tmp_path / "state"))
    upgraded = run(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "applied 0001_init" in upgraded.stdout
    assert (tmp_path / "state" / "pgdata" / "PG_VERSION").exists()
    status = run(["db", "status"], env)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("applied  0001_init")
    assert run(["db", "upgrade"], env).stdout.strip() == "up to date"


def wait_ready(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"server did not start: {process.communicate()[1]}")


def test_ctrl_c_stops_server_and_embedded_database(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "state"
    process = subprocess.Popen(
        [*SHINSEI, "serve", "--port", str(port)],
        env=env_for(None, SHINSEI_DATA_DIR=str(data_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_ready(f"http://127.0.0.1:{port}", process)
    assert (data_dir / "pgdata" / "postmaster.pid").exists()
    process.send_signal(signal.SIGINT)
    _, logs = process.communicate(timeout=30)
    assert process.returncode == 0, logs
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()


def test_ctrl_c_stops_the_database_after_a_killed_run(tmp_path: Path) -> None:
    """A run killed outright stays on pgserver's list of users; the next run must still stop PostgreSQL."""
    data_dir = tmp_path / "state"
    env = env_for(None, SHINSEI_DATA_DIR=str(data_dir))
    for stop in (signal.SIGKILL, signal.SIGINT):
        port = free_port()
        process = subprocess.Popen(
            [*SHINSEI, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait_ready(f"http://127.0.0.1:{port}", process)
        process.send_signal(stop)
        process.communicate(timeout=30)
        assert (data_dir / "pgdata" / "postmaster.pid").exists() == (stop == signal.SIGKILL)
    assert json.loads((data_dir / "pgdata" / ".handle_pids.json").read_text()) == []


@pytest.fixture
def server(db: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [*SHINSEI, "serve", "--port", str(port), "--load-samples"],
        env=env_for(db),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, process)
    yield base, process
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_serve_over_real_http_logs_requests_without_personal_data(
    server: tuple[str, subprocess.Popen[str]],
) -> None:
    base, process = server
    sealed = httpx.get(base + "/api/v1/procedures", params={"requires": "seal", "q": "山田太郎"})
    assert sealed.status_code == 200
    listing = httpx.get(base + "/api/v1/procedures", params={"requires": "seal"}, headers={"X-Request-ID": "trace-1"})
    assert listing.headers["x-request-id"] == "trace-1"
    assert listing.json()["items"] and all(p["legacy"]["seal"] != "none" for p in listing.json()["items"])
    personal = {"id": "x", "name_ja": "山田太郎", "address": "埼玉県戸田市上戸田1-1"}
    refused = httpx.post(base + "/api/v1/procedures", json=personal)
    assert refused.status_code == 401
    sample_forms = httpx.get(base + "/api/v1/forms").json()["items"]
    assert len(sample_forms) == 5
    assert {f["agency"] for f in sample_forms} >= {"MHLW", "CITY-TODA"}

    process.send_signal(signal.SIGINT)
    _, logs = process.communicate(timeout=20)
    assert process.returncode == 0

    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    requests = [entry for entry in lines if entry.get("event") == "request"]
    assert {"method": "GET", "path": "/api/v1/procedures", "status": 200, "request_id": "trace-1"}.items() <= next(
        r for r in requests if r["request_id"] == "trace-1"
    ).items()
    assert all(isinstance(r["duration_ms"], float | int) for r in requests)
    assert any(r["status"] == 401 and r["method"] == "POST" for r in requests)
    for secret in ("山田", "戸田市上戸田", "\\u5c71\\u7530"):
        assert secret not in logs


def test_forms_check_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "form.yaml"
    bad.write_text(
        "id: f\nprocedure: mhlw-36-agreement\ntitle: {ja: 題}\nsections:\n"
        "  - id: s\n    title: {ja: 節}\n    fields:\n"
        "      - {id: a, type: integer, label: {ja: a}, min: 5, max: 1}\n"
        "      - {id: a, type: text, label: {ja: b}, visible_if: {field: ghost, equals: x}}\n"
    )
    result = run(["forms", "check", str(bad)], env_for(None))
    assert result.returncode == 1
    assert "3 problem(s)" in result.stderr
    for line in (
        "/sections/0/fields/1/id: duplicate",
        "/sections/0/fields/0/min: min_max",
        "visible_if/field: unknown_field",
    ):
        assert line in result.stderr
    good = run(["forms", "check", "service/samples/forms/mhlw-36-agreement.yaml"], env_for(None))
    assert good.returncode == 0, good.stderr
    assert "ok: mhlw-36-agreement" in good.stdout


def test_forms_publish_is_idempotent(db: str) -> None:
    env = env_for(db)
    assert run(["catalog", "load", "service/samples/catalog.yaml"], env).returncode == 0
    sample = "service/samples/forms/toda-hoikusho-riyo.yaml"
    first = run(["forms", "publish", sample], env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "toda-hoikusho-riyo: published version 1"
    assert run(["forms", "publish", sample], env).stdout.strip() == "toda-hoikusho-riyo: unchanged"


def test_help_answers_without_the_heavy_libraries() -> None:
    """`shinsei --help` lists every command yet imports none of what the commands need (0.1 s, not 1.4 s)."""
    probe = (
        "import sys\n"
        "from service.cli import main\n"
        "status = main(['--help'])\n"
        "heavy = ('pyhanko', 'fontTools', 'asyncpg', 'httpx', 'litestar', 'uvicorn', 'asyncio', 'rich', 'structlog')\n"
        "print(status, sorted({m.split('.')[0] for m in sys.modules} & set(heavy)), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert result.stderr.strip() == "0 []"
    for command in ("serve", "db", "token", "catalog", "forms", "audit", "housekeeping", "sign", "submit", "status"):
        assert f"  {command} " in result.stdout
    assert "verify-bundle" in result.stdout and "verify-receipt" in result.stdout


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    result = run(["--version"], env_for(None))
    assert (result.returncode, result.stdout) == (0, f"shinsei, version {version('shinsei')}\n")


def test_signer_options_need_exactly_one_key(tmp_path: Path) -> None:
    (tmp_path / "doc.json").write_text("{}")
    neither = run(["sign", str(tmp_path / "doc.json"), "-o", str(tmp_path / "s.p7s")], env_for(None))
    both = run(
        ["sign", str(tmp_path / "doc.json"), "-o", str(tmp_path / "s.p7s"), "--p12", "a.p12", "--pkcs11-module", "m"],
        env_for(None),
    )
    for result in (neither, both):
        assert result.returncode == 2
        assert "give one of --p12 and --pkcs11-module" in result.stderr
    assert not (tmp_path / "s.p7s").exists()


def test_several_workers_add_up_their_metrics(db: str, tmp_path: Path) -> None:
    """Two worker processes answer in turn; every scrape counts the requests of both."""
    port = free_port()
    env = env_for(db, SHINSEI_DATA_DIR=str(tmp_path / "state"), SHINSEI_METRICS="open", SHINSEI_WORKERS="2")
    process = subprocess.Popen(
        [*SHINSEI, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, process)
    try:
        for _ in range(20):
            with httpx.Client() as fresh:  # a new connection each time, so both workers get some
                assert fresh.get(base + "/healthz").status_code == 200
                scrape = fresh.get(base + "/metrics").text
        healthz = [
            line
            for line in scrape.splitlines()
            if line.startswith('shinsei_http_requests_total{method="GET",route="/healthz"')
        ]
        assert healthz == ['shinsei_http_requests_total{method="GET",route="/healthz",status="200"} 20.0']
    finally:
        process.send_signal(signal.SIGINT)
        _, logs = process.communicate(timeout=30)
    assert process.returncode == 0, logs
    assert len([line for line in logs.splitlines() if "Started server process" in line]) == 2
