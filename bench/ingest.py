"""Intake under load: shinsei served as ``make run`` serves it, against a bare insert endpoint.

Pre-signed applications (a real JPKI-style signature each, nonces fetched beforehand) are posted by
concurrent clients for a fixed time. Reported: submissions/s, p50 and p99; the same for a bare Litestar
endpoint that only inserts the same bytes with asyncpg (the ceiling: HTTP, multipart, one INSERT);
then p99 at half of shinsei's maximum rate. Everything, PostgreSQL included, shares this machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
from asn1crypto import pem

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from service.embedded import embedded_postgres
from tests import pki
from tests.service.test_intake_live import ANSWERS

DURATION = 8.0
CONCURRENCY = 16


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        number: int = s.getsockname()[1]
        return number


def start(command: list[str], env: dict[str, str], base: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code in (200, 404):
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command} did not start")


async def load(url: str, requests: list[list[tuple[str, Any]]], rate: float | None) -> tuple[int, float, list[float]]:
    """Closed loop (``rate`` None: as fast as CONCURRENCY clients go) or open loop at ``rate`` per second."""
    latencies: list[float] = []
    queue = iter(requests)
    done = 0
    started = time.perf_counter()
    deadline = started + DURATION
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=CONCURRENCY * 2)) as client:

        async def one(parts: list[tuple[str, Any]]) -> None:
            nonlocal done
            t0 = time.perf_counter()
            response = await client.post(url, files=parts)
            latencies.append(time.perf_counter() - t0)
            if response.status_code == 201:
                done += 1

        if rate is None:

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    parts = next(queue, None)
                    if parts is None:
                        return
                    await one(parts)

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        else:
            tasks = []
            for i, parts in enumerate(requests):
                at = started + i / rate
                if at > deadline:
                    break
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                tasks.append(asyncio.create_task(one(parts)))
            await asyncio.gather(*tasks)
    return done, time.perf_counter() - started, latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; ticks at 100 Hz)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 2 else float("nan")


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    with embedded_postgres(tmp / "pgdata") as dsn:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSEI_")} | {
            "DATABASE_URL": dsn, "SHINSEI_DATA_DIR": str(tmp / "state"), "SHINSEI_LOG_LEVEL": "warning",
            "SHINSEI_REVERIFY_SECONDS": "0", "SHINSEI_CRL_REFRESH_SECONDS": "0",
        }  # fmt: skip
        shinsei_port, bare_port = port(), port()
        base = f"http://127.0.0.1:{shinsei_port}"
        server = start(
            [sys.executable, "-m", "service", "serve", "--port", str(shinsei_port), "--load-samples"], env, base
        )
        try:
            admin = subprocess.run(
                [sys.executable, "-m", "service", "token", "create", "--role", "admin"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            headers = {"Authorization": f"Bearer {admin}"}
            anchor = {
                "class": "jpki",
                "certificate": pem.armor("CERTIFICATE", pki.cert("jlis-root-gen2").dump()).decode(),
            }
            httpx.post(base + "/api/v1/trust/anchors", json=anchor, headers=headers).raise_for_status()
            httpx.post(
                base + "/api/v1/trust/crls",
                json={"crl": pem.armor("X509 CRL", pki.crl("jlis-gen2").dump()).decode()},
                headers=headers,
            ).raise_for_status()
            count = 3000
            print(f"signing {count} applications ...", file=sys.stderr)
            requests = []
            with httpx.Client(base_url=base) as client:
                for i in range(count):
                    nonce = client.post("/api/v1/forms/nta-kaigyo-todoke/versions/1/nonces").json()["nonce"]
                    document = msgspec.json.encode(
                        {
                            "form_id": "nta-kaigyo-todoke",
                            "form_version": 1,
                            "nonce": nonce,
                            "answers": ANSWERS | {"occupation": f"職業{i}"},
                        }
                    )
                    signature = pki.sign_pyhanko("applicant", document)
                    requests.append([
                        ("document", ("document.json", document, "application/json")),
                        ("signature", ("s.p7s", signature, "application/pkcs7-signature")),
                    ])  # fmt: skip
            bare = start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bench.bare_app:app",
                    "--port",
                    str(bare_port),
                    "--log-level",
                    "warning",
                ],
                env,
                f"http://127.0.0.1:{bare_port}",
            )
            try:
                cpu = cpu_seconds(server.pid)
                done, elapsed, latencies = asyncio.run(load(base + "/api/v1/submissions", requests[:1500], None))
                ours, ours_cpu = done / elapsed, (cpu_seconds(server.pid) - cpu) / max(done, 1)
                cpu = cpu_seconds(bare.pid)
                b_done, b_elapsed, b_latencies = asyncio.run(load(f"http://127.0.0.1:{bare_port}/bare", requests, None))
                ceiling, bare_cpu = b_done / b_elapsed, (cpu_seconds(bare.pid) - cpu) / max(b_done, 1)
                h_done, h_elapsed, h_latencies = asyncio.run(
                    load(base + "/api/v1/submissions", requests[1500:], ours / 2)
                )
            finally:
                bare.send_signal(signal.SIGINT)
                bare.wait(timeout=10)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=20)
    rows = [
        ("bare Litestar + asyncpg insert", ceiling, b_latencies),
        ("shinsei intake (max)", ours, latencies),
        ("shinsei intake at half that rate", h_done / h_elapsed, h_latencies),
    ]
    print(f"  {'endpoint':<34}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}")
    for name, rate, values in rows:
        print(f"  {name:<34}{rate:>12,.0f}{percentile(values, 50):>10.1f}{percentile(values, 99):>10.1f}")
    print(f"\n  server CPU per request: shinsei {ours_cpu * 1000:.1f} ms, bare {bare_cpu * 1000:.1f} ms")
    print(f"  shinsei reaches {ours / ceiling:.0%} of the bare ceiling")
    print("  target: >= 70% of the ceiling, and p99 < 50 ms at half the maximum rate")


if __name__ == "__main__":
    main()
