"""Intake under load, measured with a client that is not the bottleneck (wrk), against the bare ceiling.

Both servers run as uvicorn serves them (one process, the same pool size) on one embedded PostgreSQL:
shinsei's ``POST /api/v1/submissions`` (``shinsei serve``, a current CRL, real JPKI-style signatures,
every body pre-signed with its own nonce and sent once) and ``bench/bare_app.py`` (the same multipart
bytes, one INSERT). ``wrk`` (Debian's package; installed here when missing and the user is root) drives
both, interleaved in rounds, with ``bench/ingest.lua``. Printed per endpoint: submissions/s, p50, p99,
server and PostgreSQL CPU per submission, statements per submission (PostgreSQL's own statement
log over a counted sample), the share of lock waits whose holder was idle in transaction (sampled
from ``pg_stat_activity`` every 5 ms), and the ratio to the ceiling; then p99 at half of shinsei's
maximum rate (an open-loop client at a fixed rate, far below what it can send).

``INGEST_BODIES`` (default 6,000 + 4,000 per worker), ``INGEST_SECONDS`` (6), ``INGEST_CONNECTIONS`` (16) and
``INGEST_ROUNDS`` (2) scale it; ``INGEST_WORKERS`` (default ``1,2``) runs the whole comparison once per
worker count, both servers with that many processes (``shinsei serve --workers N``, ``uvicorn --workers N``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import msgspec
import psutil
from asn1crypto import pem
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from service.embedded import embedded_postgres
from tests import pki
from tests.service.test_intake_live import ANSWERS

HERE = Path(__file__).resolve().parent
#: Every body is sent once (a nonce is single-use), so there must be more than the server can take in a run.
BODIES = int(os.environ.get("INGEST_BODIES", "0"))
SECONDS = int(os.environ.get("INGEST_SECONDS", "6"))
#: The run under py-spy, after the counted rounds.
PROFILE_SECONDS = 3
CONNECTIONS = int(os.environ.get("INGEST_CONNECTIONS", "16"))
ROUNDS = int(os.environ.get("INGEST_ROUNDS", "2"))
WORKERS = [int(n) for n in os.environ.get("INGEST_WORKERS", "1,2").split(",")]
#: py-spy (``pip install py-spy``), when installed, samples shinsei's processes in a run of their own after the rounds.
PY_SPY = shutil.which("py-spy") or next((str(p) for p in [Path(sys.executable).parent / "py-spy"] if p.exists()), None)
THREADS = 2
BOUNDARY = "shinsei-bench-boundary-7d1c"
TARGET_RATIO = 0.35
#: Submissions sent before the statements are counted (see ``statements``).
WARM_UP = 10


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("bench/ingest.py needs wrk: sudo apt-get install -y wrk")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    )
    return shutil.which("wrk") or sys.exit("wrk did not install")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        number: int = s.getsockname()[1]
        return number


def start(command: list[str], env: dict[str, str], base: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code in (200, 404):
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command} did not start")


def multipart(document: bytes, signature: bytes) -> bytes:
    parts = [
        ("document", "document.json", "application/json", document),
        ("signature", "s.p7s", "application/pkcs7-signature", signature),
    ]
    out = b""
    for name, filename, kind, data in parts:
        out += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {kind}\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


def cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def postgres_processes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]


class Run(msgspec.Struct, kw_only=True):
    created: int
    other: int
    reused: int
    p50_ms: float
    p99_ms: float
    seconds: float
    server_cpu_ms: float = 0.0
    postgres_cpu_ms: float = 0.0
    lock_samples: int = 0
    idle_holder_samples: int = 0
    samples: int = 0

    @property
    def rate(self) -> float:
        return self.created / self.seconds


WAITERS = """
    SELECT count(*) FILTER (WHERE a.wait_event_type = 'Lock') AS waiting,
           count(*) FILTER (WHERE a.wait_event_type = 'Lock' AND EXISTS (
               SELECT 1 FROM pg_stat_activity h
               WHERE h.pid = ANY (pg_blocking_pids(a.pid)) AND h.state = 'idle in transaction')) AS idle_holder
    FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"""


@contextmanager
def sampler(dsn: str) -> Iterator[list[tuple[int, int]]]:
    """``pg_stat_activity`` every 5 ms: backends waiting on a lock, and those whose holder is idle in transaction."""
    samples: list[tuple[int, int]] = []
    stop = threading.Event()

    async def loop() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            while not stop.is_set():
                row = await conn.fetchrow(WAITERS)
                samples.append((row["waiting"], row["idle_holder"]))
                await asyncio.sleep(0.005)
        finally:
            await conn.close()

    thread = threading.Thread(target=asyncio.run, args=(loop(),), daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(timeout=5)


def wrk(binary: str, url: str, bodies: Path, count: int, seconds: int = SECONDS) -> Run:
    command = [binary, "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--timeout", "10s"]
    command += ["-s", str(HERE / "ingest.lua"), url, "--", "/" + url.split("/", 3)[3]]
    command += [str(bodies), str(count), str(THREADS), BOUNDARY]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", output)
    if match is None:
        raise RuntimeError(output)
    created, other, reused, p50, p99, micros = (int(g) for g in match.groups())
    return Run(created=created, other=other, reused=reused, p50_ms=p50 / 1000, p99_ms=p99 / 1000, seconds=micros / 1e6)


def measured(
    binary: str,
    url: str,
    bodies: Path,
    count: int,
    server: int,
    dsn: str,
    profile: Path | None = None,
    seconds: int = SECONDS,
) -> Run:
    servers, databases = tree(server), postgres_processes()
    before_server, before_db = cpu(servers), cpu(databases)
    spies = []
    if profile is not None and PY_SPY:
        # Every process of the server's tree (one server, or uvicorn's supervisor and its workers); py-spy
        # leaves idle threads out, so a supervisor waiting on its workers adds next to nothing.
        workers = [p for p in servers if "python" in " ".join(p.cmdline())]
        spies = [
            subprocess.Popen(
                [
                    PY_SPY,
                    "record",
                    "-p",
                    str(p.pid),
                    "-d",
                    str(seconds),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    str(profile.with_suffix(f".{p.pid}.txt")),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for p in workers
        ]
    with sampler(dsn) as samples:
        run = wrk(binary, url, bodies, count, seconds)
    for spy in spies:
        spy.wait(timeout=60)
    done = max(run.created, 1)
    run.server_cpu_ms = (cpu(servers) - before_server) / done * 1000
    run.postgres_cpu_ms = (cpu(databases) - before_db) / done * 1000
    run.samples = len(samples)
    run.lock_samples = sum(1 for waiting, _ in samples if waiting)
    run.idle_holder_samples = sum(1 for _, idle in samples if idle)
    return run


async def open_loop(url: str, bodies: list[bytes], rate: float, seconds: float) -> list[float]:
    """A fixed arrival rate (not a closed loop): p99 as an applicant sees it when the server is half busy."""
    latencies: list[float] = []
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:

        async def one(body: bytes) -> None:
            started = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
            if response.status_code == 201:
                latencies.append(time.perf_counter() - started)

        tasks = []
        begin = time.perf_counter()
        for i, body in enumerate(bodies):
            at = begin + i / rate
            if at - begin > seconds:
                break
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)
    return latencies


def statements(log: Path, send: list[bytes], url: str) -> float:
    """PostgreSQL's own count: every statement logged while ``send`` is posted one by one, per submission.

    The server's background jobs (the audit sealer each second, the trust check) run meanwhile; their
    rate is measured first over an idle stretch and taken off, so the figure is intake's own.
    """

    async def toggle(dsn_value: str, value: str) -> None:
        conn = await asyncpg.connect(dsn_value)
        try:
            await conn.execute(f"ALTER SYSTEM SET log_statement = '{value}'")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    def logged_since(offset: int) -> int:
        with log.open("rb") as f:
            f.seek(offset)
            return len(re.findall(r"LOG:  (?:statement|execute [^:]*):", f.read().decode(errors="replace")))

    # Warm-up, not counted: the first requests load the trust store into the verifier and open the
    # pool's connections (type introspection, settings), statements that a running server has long done.
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    warm, send = send[:WARM_UP], send[WARM_UP:]
    with httpx.Client(timeout=30) as client:
        for body in warm:
            client.post(url, content=body, headers=headers)
    asyncio.run(toggle(DSN, "all"))
    time.sleep(0.5)
    idle_from, idle_started = log.stat().st_size, time.perf_counter()
    time.sleep(3.0)
    background_rate = logged_since(idle_from) / (time.perf_counter() - idle_started)
    created, offset, started = 0, log.stat().st_size, time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for body in send:
            created += client.post(url, content=body, headers=headers).status_code == 201
    elapsed = time.perf_counter() - started
    count = logged_since(offset)
    asyncio.run(toggle(DSN, "none"))
    return max(count - background_rate * elapsed, 0.0) / max(created, 1)


DSN = ""


def _sign_chunk(task: tuple[int, list[str]]) -> list[bytes]:
    """One process's share of the bodies: a pyHanko signer of its own, every body in one event loop."""
    first, nonces = task
    signer = signers.SimpleSigner(
        signing_cert=pki.cert("applicant"),
        signing_key=pki.private_key("applicant"),
        cert_registry=SimpleCertificateStore.from_certs(pki.issuer_chain("applicant")),
    )

    async def sign_all() -> list[bytes]:
        bodies = []
        for i, nonce in enumerate(nonces, start=first):
            document = msgspec.json.encode(
                {"form_id": "nta-kaigyo-todoke", "form_version": 1, "nonce": nonce,
                 "answers": ANSWERS | {"occupation": f"職業{i}"}}
            )  # fmt: skip
            signature = await signer.async_sign_general_data(document, "sha256", detached=True)
            bodies.append(multipart(document, signature.dump()))
        return bodies

    return asyncio.run(sign_all())


def sign_bodies(base: str, count: int, directory: Path) -> list[bytes]:
    """``count`` applications, each with its own nonce, signed in a process per core (signing is the slow part)."""
    with httpx.Client(base_url=base) as client:
        nonces = [
            client.post("/api/v1/forms/nta-kaigyo-todoke/versions/1/nonces").json()["nonce"] for _ in range(count)
        ]
    share = -(-count // (os.cpu_count() or 1))
    tasks = [(start, nonces[start : start + share]) for start in range(0, count, share)]
    with concurrent.futures.ProcessPoolExecutor(len(tasks)) as pool:
        bodies = [body for chunk in pool.map(_sign_chunk, tasks) for body in chunk]
    for i, body in enumerate(bodies):
        (directory / f"{i}.bin").write_bytes(body)
    return bodies


class Comparison(msgspec.Struct, kw_only=True):
    workers: int
    profile: list[tuple[str, float]]
    """Where shinsei's processes spent their samples (py-spy), by part of the request, as shares."""
    ours: Run
    ceiling: Run
    ours_runs: list[Run]
    bare_runs: list[Run]
    statements: dict[str, float]
    half: list[float]


def compare(binary: str, tmp: Path, env: dict[str, str], pgdata: Path, dsn: str, workers: int) -> Comparison:
    """Both servers with ``workers`` processes each, fresh signed bodies, the rounds interleaved."""
    shinsei_port, bare_port = free_port(), free_port()
    base, bare_base = f"http://127.0.0.1:{shinsei_port}", f"http://127.0.0.1:{bare_port}"
    server = start(
        [sys.executable, "-m", "service", "serve", "--port", str(shinsei_port), "--load-samples",
         "--workers", str(workers)],
        env, base,
    )  # fmt: skip
    bare = start(
        [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port), "--log-level", "warning",
         "--workers", str(workers)],
        env | {"PYTHONPATH": str(HERE.parent)}, bare_base,
    )  # fmt: skip
    try:
        bodies_dir = tmp / f"bodies-{workers}"
        bodies_dir.mkdir()
        count = BODIES or 6_000 + 4_000 * workers
        print(f"signing {count} applications (each with its own nonce) ...", file=sys.stderr)
        bodies = sign_bodies(base, count, bodies_dir)
        statements_per = {
            "shinsei": statements(pgdata / "log", bodies[:50], base + "/api/v1/submissions"),
            "bare": statements(pgdata / "log", bodies[:50], bare_base + "/bare"),
        }
        # Each counted round, then one shorter run under py-spy, gets bodies of its own in proportion to its
        # length: py-spy takes CPU from the server it samples, so that run's throughput is not counted.
        runs = [SECONDS] * ROUNDS + [PROFILE_SECONDS]
        per_second = (count - 50 - 600) // sum(runs)
        directories, sizes, first = [], [], 50
        for r, seconds in enumerate(runs):
            directory = tmp / f"run-{workers}-{r}"
            directory.mkdir()
            size = per_second * seconds
            for i, body in enumerate(bodies[first : first + size]):
                (directory / f"{i}.bin").write_bytes(body)
            directories.append(directory)
            sizes.append(size)
            first += size
        ours_runs, bare_runs = [], []
        for r in range(ROUNDS):
            bare_runs.append(measured(binary, bare_base + "/bare", bodies_dir, count, bare.pid, dsn))
            ours_runs.append(measured(binary, base + "/api/v1/submissions", directories[r], sizes[r], server.pid, dsn))
        if PY_SPY:
            measured(
                binary, base + "/api/v1/submissions", directories[-1], sizes[-1], server.pid, dsn,
                tmp / f"profile-{workers}", seconds=PROFILE_SECONDS,
            )  # fmt: skip
        ours = max(ours_runs, key=lambda run: run.rate)
        half = asyncio.run(open_loop(base + "/api/v1/submissions", bodies[-600:], ours.rate / 2, 4.0))
    finally:
        for process in (bare, server):
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    return Comparison(
        workers=workers,
        profile=summarise_profile(tmp, workers),
        ours=ours,
        ceiling=max(bare_runs, key=lambda run: run.rate),
        ours_runs=ours_runs,
        bare_runs=bare_runs,
        statements=statements_per,
        half=half,
    )


#: Where a sample was: the frame nearest the leaf that names one of these decides (module paths as py-spy
#: prints them), so a library's frames count for the part of shinsei that called them, and a middleware
#: that wraps the whole request (service/body.py) counts only for its own frames.
PARTS = [
    ("signature verification (signing/verify, asn1crypto, RSA)", ("signing/verify.py", "signing/crypto.py")),
    ("receipt: canonical JSON and its CMS signature", ("sign_receipt", "detached_cms", "signing/canonical.py")),
    ("form validation (compiled msgspec types)", ("forms/",)),
    ("database client (asyncpg)", ("asyncpg",)),
    ("multipart parsing and body reading", ("multipart", "service/body.py")),
    ("request log and metrics", ("service/logs.py", "service/metrics", "prometheus_client", "structlog")),
    ("security headers and problems", ("service/headers.py", "service/problems.py")),
    ("intake's own steps (service/submissions, proxy, trust)", ("service/",)),
    ("framework (Litestar, uvicorn, httptools)", ("litestar", "uvicorn", "httptools", "h11")),
    ("event loop and threads (idle, scheduling)", ("asyncio", "threading", "selectors", "concurrent")),
]


def part_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, marks in PARTS:
            if any(mark in frame for mark in marks):
                return name
    return "other"


#: For each part of the profile: what would take its cost away (printed when the floor is not met).
REMEDIES = {
    PARTS[0][0]: "a native CMS verifier, or verification in worker processes on more cores than this machine has",
    PARTS[1][0]: "an ECDSA P-256 receipt key (SHINSEI_RECEIPT_KEY_ALGORITHM) if RSA is in use; batching receipts",
    PARTS[2][0]: "nothing left to win: the compiled types already run in C",
    PARTS[3][0]: "fewer and narrower statements (jsonb values instead of jsonb[] elements, one round trip less)",
    PARTS[4][0]: "a multipart parser in C, or signed documents sent as one JSON body with base64 parts",
    PARTS[5][0]: "sampling the request log, or metrics recorded once per batch",
    PARTS[6][0]: "headers precomputed once per route",
    PARTS[7][0]: "the pipeline's Python between the libraries: fewer objects built per submission",
    PARTS[8][0]: "fewer middleware layers and dependencies on the intake route",
    PARTS[9][0]: "no thread hand-off for small inputs (work inline below a size, as the multipart parse does)",
}


def summarise_profile(tmp: Path, workers: int) -> list[tuple[str, float]]:
    counts: dict[str, int] = {}
    total = 0
    for path in tmp.glob(f"profile-{workers}.*.txt"):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, number = line.rpartition(" ")
            if not number.isdigit():
                continue
            total += int(number)
            part = part_of(stack.split(";"))
            counts[part] = counts.get(part, 0) + int(number)
    return sorted(((name, n / total) for name, n in counts.items()), key=lambda item: -item[1]) if total else []


def report(result: Comparison) -> None:
    ours, ceiling = result.ours, result.ceiling
    print(f"\n  {result.workers} worker(s) each; wrk, {CONNECTIONS} connections, {SECONDS} s a run, {ROUNDS} rounds")
    print(
        f"  {'endpoint':<30}{'per s':>8}{'p50 ms':>8}{'p99 ms':>8}{'app CPU':>9}{'PG CPU':>8}{'stmts':>7}{'locks':>7}"
    )
    for name, run, stmts in (("bare Litestar + 1 INSERT", ceiling, result.statements["bare"]),
                             ("shinsei intake", ours, result.statements["shinsei"])):  # fmt: skip
        locks = f"{run.lock_samples / max(run.samples, 1):.0%}"
        print(
            f"  {name:<30}{run.rate:>8,.0f}{run.p50_ms:>8.1f}{run.p99_ms:>8.1f}"
            f"{run.server_cpu_ms:>8.2f}m{run.postgres_cpu_ms:>7.2f}m{stmts:>7.1f}{locks:>7}"
        )
        if run.other or run.reused:
            print(f"    ({run.other} answers other than 201, {run.reused} bodies sent twice)")
    for r, (b, o) in enumerate(zip(result.bare_runs, result.ours_runs, strict=True), start=1):
        print(f"    round {r}: bare {b.rate:,.0f}/s, shinsei {o.rate:,.0f}/s ({o.rate / b.rate:.0%})")
    idle = ours.idle_holder_samples / max(ours.lock_samples, 1)
    print(f"  shinsei reaches {ours.rate / ceiling.rate:.0%} of the bare ceiling (floor {TARGET_RATIO:.0%}, aim 50%)")
    print(f"  statements per submission: {result.statements['shinsei']:.1f} (target <= 5)")
    print(
        f"  lock waits in {ours.lock_samples} of {ours.samples} samples; "
        f"{idle:.0%} of them behind a holder idle in transaction (target 0%)"
    )
    if len(result.half) > 2:
        p99 = statistics.quantiles(result.half, n=100)[98] * 1000
        print(f"  p99 at half the maximum rate ({ours.rate / 2:,.0f}/s, open loop): {p99:.1f} ms (target < 50 ms)")
    if result.profile:
        print("  where shinsei's processes spent their time (py-spy, a run of its own, not counted), per submission:")
        for name, share in result.profile:
            print(f"    {share:>5.0%}  {share * ours.server_cpu_ms:5.2f} ms  {name}")
    if ours.rate / ceiling.rate < TARGET_RATIO and ours.server_cpu_ms > 0:
        explain(result)


def explain(result: Comparison) -> None:
    """Why the floor is not met, from the figures of this run: the CPU each submission costs, part by part."""
    ours, ceiling = result.ours, result.ceiling
    cores = ours.server_cpu_ms * ours.rate / 1000
    bound = ceiling.server_cpu_ms / ours.server_cpu_ms
    print("  why the floor is not met:")
    print(
        f"    shinsei's processes used {cores:.2f} CPU cores at {ours.rate:,.0f}/s; a submission costs them "
        f"{ours.server_cpu_ms:.2f} ms of CPU where the bare endpoint's costs {ceiling.server_cpu_ms:.2f} ms, so on "
        f"the same CPU shinsei can reach at most {bound:.0%} of the ceiling"
    )
    need = ceiling.server_cpu_ms / TARGET_RATIO
    print(f"    the floor needs at most {need:.2f} ms per submission; what would take the cost away:")
    for name, share in result.profile[:4]:
        if name in REMEDIES:
            print(f"      {share * ours.server_cpu_ms:5.2f} ms  {name}: {REMEDIES[name]}")


def main() -> None:
    global DSN
    binary = ensure_wrk()
    tmp = Path(tempfile.mkdtemp())
    pgdata = tmp / "pgdata"
    with embedded_postgres(pgdata) as dsn:
        DSN = dsn
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHINSEI_")} | {
            "DATABASE_URL": dsn, "SHINSEI_DATA_DIR": str(tmp / "state"), "SHINSEI_LOG_LEVEL": "warning",
            "SHINSEI_REVERIFY_SECONDS": "0", "SHINSEI_CRL_REFRESH_SECONDS": "0",
            # The audit sealer is a batch job (a handful of statements a second, whatever the rate): its
            # statements would blur the count of intake's own, which is what the target is about.
            "SHINSEI_AUDIT_SEAL_SECONDS": "0", "SHINSEI_WEBHOOK_SECONDS": "0",
        }  # fmt: skip
        subprocess.run([sys.executable, "-m", "service", "db", "upgrade"], env=env, capture_output=True, check=True)
        admin = subprocess.run(
            [sys.executable, "-m", "service", "token", "create", "--role", "admin"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        trust(env, admin.stdout.strip())
        results = [compare(binary, tmp, env, pgdata, dsn, workers) for workers in WORKERS]
    for result in results:
        report(result)


def trust(env: dict[str, str], admin: str) -> None:
    """The J-LIS-like anchor and a CRL current now (issued today, before every nonce: the production case)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start([sys.executable, "-m", "service", "serve", "--port", str(port), "--load-samples"], env, base)
    try:
        headers = {"Authorization": f"Bearer {admin}"}
        anchor = {"class": "jpki", "certificate": pem.armor("CERTIFICATE", pki.cert("jlis-root-gen2").dump()).decode()}
        httpx.post(base + "/api/v1/trust/anchors", json=anchor, headers=headers).raise_for_status()
        crl = pem.armor("X509 CRL", pki.crl("jlis-gen2", dt.datetime.now(dt.UTC)).dump()).decode()
        httpx.post(base + "/api/v1/trust/crls", json={"crl": crl}, headers=headers).raise_for_status()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
