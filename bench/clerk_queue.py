"""The clerk's queue at 1,000,000 applications: pages by keyset against OFFSET, claims with SKIP LOCKED.

A fresh embedded PostgreSQL is migrated and given the sample catalogue and forms; then 1,000,000
applications (nonce, submission and revision rows) across the five sample forms' agencies and every
status are loaded with COPY. Timed, each through the service's own query functions:

- the first queue page (all statuses, and ``status=received``), and a page 90% deep by keyset cursor;
- the same deep page by ``OFFSET`` (the usual alternative), same query otherwise;
- claims per second with 8 concurrent claimers (``FOR UPDATE SKIP LOCKED``), every claimed id checked
  distinct, against the same claim with a plain ``FOR UPDATE`` (which makes claimers queue behind
  each other and come back empty-handed when the row they waited for was taken).

Target: any queue page under 5 ms at 1M rows; claims never collide.

(Not ``bench/queue.py``: Python puts a script's folder first on its path, and a ``queue.py`` there
shadows the standard library's ``queue`` for every benchmark in this folder.)
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from service.cli import main as cli
from service.db import init_connection
from service.embedded import embedded_postgres
from service.queue import queries
from service.settings import SAMPLE_CATALOG, SAMPLE_FORMS

ROWS = int(os.environ.get("QUEUE_BENCH_ROWS", "1000000"))
CLAIMERS = 8
CLAIM_SECONDS = 5.0
REPEAT = 200
STATUSES = [  # (status, share): most of a queue's history is decided
    ("received", 0.08),
    ("under_review", 0.04),
    ("correction_requested", 0.03),
    ("approved", 0.62),
    ("rejected", 0.12),
    ("withdrawn", 0.08),
    ("signature_invalid", 0.03),
]
CLERKS_PER_AGENCY = 20
#: The queue query with OFFSET instead of the keyset condition (the usual way to page).
OFFSET_QUEUE = queries.LIST_QUEUE_FOR_CLERK.replace(
    "AND ($10::timestamptz IS NULL OR (s.created_at, s.id) > ($10, $11::uuid))",
    "AND ($10::timestamptz IS NULL OR $11::uuid IS NULL OR true)",
).replace("LIMIT $12", "LIMIT $12 OFFSET $13")
#: The claim without SKIP LOCKED: claimers wait for each other's row locks.
BLOCKING_CLAIM = queries.CLAIM_OLDEST.replace("FOR UPDATE SKIP LOCKED", "FOR UPDATE")


def csv_bytes(rows: list[tuple[Any, ...]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


async def load(conn: asyncpg.Connection) -> dict[str, list[uuid.UUID]]:
    """COPY ROWS applications; returns each agency's clerk token ids."""
    forms = await conn.fetch(
        "SELECT v.id, f.id AS form_id, f.agency_code, f.procedure_id"
        " FROM form_version v JOIN form f ON f.id = v.form_id"
    )
    clerks: dict[str, list[uuid.UUID]] = {}
    for agency in {f["agency_code"] for f in forms}:
        clerks[agency] = [
            await conn.fetchval(
                "INSERT INTO api_token (token_hash, role, agency_code) VALUES ($1, 'clerk', $2) RETURNING id",
                hashlib.sha256(uuid.uuid4().bytes).digest(),
                agency,
            )
            for _ in range(CLERKS_PER_AGENCY)
        ]
    rng = random.Random(7)  # noqa: S311 - benchmark data, not secrets
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    span = 700 * 86400
    statuses, weights = zip(*STATUSES, strict=True)
    batch = 100_000
    verification = '{"status":"passed","indication":"TOTAL_PASSED","sub_indication":null,"signers":[{"indication":"TOTAL_PASSED","sub_indication":null,"certificate_class":"jpki","name":"申請 太郎"}]}'  # noqa: E501
    # Loading is not what is measured: foreign keys are not checked row by row (the data is made to fit).
    await conn.execute("SET session_replication_role = replica")
    for offset in range(0, ROWS, batch):
        nonces, submissions, revisions = [], [], []
        for n in range(offset, min(offset + batch, ROWS)):
            form = forms[n % len(forms)]
            status = rng.choices(statuses, weights)[0]
            received = start + dt.timedelta(seconds=span * n / ROWS + rng.random())
            nonce = f"bench{n:011d}xxxxxx"
            sid, rid = uuid.uuid4(), uuid.uuid4()
            assignee = "" if status == "received" else str(rng.choice(clerks[form["agency_code"]]))
            opened = "" if status == "received" and rng.random() < 0.7 else received.isoformat()
            flags = "{identity_mismatch}" if rng.random() < 0.01 else "{}"
            digest = hashlib.sha256(n.to_bytes(8, "big")).hexdigest()
            nonces.append((nonce, form["id"], received.isoformat(), (received + dt.timedelta(days=1)).isoformat()))
            submissions.append(
                (sid, form["agency_code"], form["procedure_id"], form["form_id"], status, "\\x" + digest,
                 "[]", received.isoformat(), received.isoformat(), assignee, opened, flags)
            )  # fmt: skip
            revisions.append(
                (rid, sid, 1, form["id"], nonce, "\\x7b7d", "\\x" + digest, received.isoformat(), "passed",
                 verification, flags, f"{form['agency_code']}-{n:09d}", "\\x7b7d", "\\x00")
            )  # fmt: skip
        for table, columns, rows in (
            ("nonce", ["nonce", "form_version_id", "issued_at", "expires_at"], nonces),
            ("submission", ["id", "agency_code", "procedure_id", "form_id", "status", "access_token_hash",
                            "signer_identity", "created_at", "updated_at", "assignee", "first_opened_at", "flags"],
             submissions),
            ("revision", ["id", "submission_id", "number", "form_version_id", "nonce", "document", "document_sha256",
                          "received_at", "verification_status", "verification", "flags", "receipt_number",
                          "receipt_json", "receipt_cms"], revisions),
        ):  # fmt: skip
            await conn.copy_to_table(table, source=io.BytesIO(csv_bytes(rows)), columns=columns, format="csv")
    await conn.execute("SET session_replication_role = DEFAULT")
    await conn.execute("ANALYZE")
    return clerks


async def timed(conn: asyncpg.Connection, query: str, *args: Any) -> tuple[float, float, int]:
    """(median ms, p99 ms, rows) over REPEAT runs, each as the service runs it (custom plan, in a transaction)."""
    samples, rows = [], 0
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        async with conn.transaction():
            await conn.execute(queries.CUSTOM_PLAN)
            rows = len(await conn.fetch(query, *args))
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1], rows


def page_args(agency: str, me: uuid.UUID, status: str | None, after: tuple[Any, Any]) -> list[Any]:
    return [agency, status, None, None, "any", me, None, None, None, after[0], after[1], 51]


async def pages(conn: asyncpg.Connection, agency: str, me: uuid.UUID) -> None:
    total = await conn.fetchval("SELECT count(*) FROM submission WHERE agency_code = $1", agency)
    depth = int(total * 0.9)
    deep = await conn.fetchrow(
        "SELECT created_at, id FROM submission WHERE agency_code = $1 ORDER BY created_at, id OFFSET $2 LIMIT 1",
        agency,
        depth,
    )
    print(f"queue pages ({agency}: {total:,} of {ROWS:,} applications; 50 rows a page; median / p99 of {REPEAT})")
    results = {}
    for name, query, args in (
        ("first page, all statuses", queries.LIST_QUEUE_FOR_CLERK, page_args(agency, me, None, (None, None))),
        ("first page, received", queries.LIST_QUEUE_FOR_CLERK, page_args(agency, me, "received", (None, None))),
        (
            "flag=identity_mismatch",
            queries.LIST_QUEUE_FOR_CLERK,
            [agency, None, None, None, "any", me, "identity_mismatch", None, None, None, None, 51],
        ),
        (f"90% deep ({depth:,}), keyset", queries.LIST_QUEUE_FOR_CLERK, page_args(agency, me, None, tuple(deep))),
        (f"90% deep ({depth:,}), OFFSET", OFFSET_QUEUE, [*page_args(agency, me, None, (None, None)), depth]),
    ):
        median, p99, rows = await timed(conn, query, *args)
        if os.environ.get("QUEUE_BENCH_EXPLAIN"):
            async with conn.transaction():
                await conn.execute(queries.CUSTOM_PLAN)
                plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *args)
            print("\n".join("      " + r[0] for r in plan))
        results[name] = median
        print(f"  {name:<34} {median:8.2f} ms  {p99:8.2f} ms  ({rows} rows)")
    keyset = results[f"90% deep ({depth:,}), keyset"]
    offset = results[f"90% deep ({depth:,}), OFFSET"]
    print(f"  deep page: keyset is {offset / keyset:.0f}x faster than OFFSET")


async def claims(dsn: str, agency: str, clerks: list[uuid.UUID], query: str) -> tuple[int, int, float]:
    """(claims, empty answers, seconds) for CLAIMERS connections claiming as fast as they can."""
    claimed: list[uuid.UUID] = []
    empty = 0
    deadline = time.perf_counter() + CLAIM_SECONDS

    async def claimer(clerk: uuid.UUID) -> None:
        nonlocal empty
        conn = await asyncpg.connect(dsn)
        await init_connection(conn)
        try:
            while time.perf_counter() < deadline:
                async with conn.transaction():
                    row = await conn.fetchrow(query, agency, clerk)
                if row is None:
                    empty += 1
                else:
                    claimed.append(row["id"])
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(claimer(c) for c in clerks[:CLAIMERS]))
    elapsed = time.perf_counter() - started
    if len(claimed) != len(set(claimed)):
        raise AssertionError("two claimers got the same application")
    # Put them back, so that the next contender starts from the same queue.
    conn = await asyncpg.connect(dsn)
    await conn.execute("UPDATE submission SET status = 'received', assignee = NULL WHERE id = ANY($1::uuid[])", claimed)
    await conn.execute("VACUUM ANALYZE submission")
    await conn.close()
    return len(claimed), empty, elapsed


async def run(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    t0 = time.perf_counter()
    clerks = await load(conn)
    print(f"loaded {ROWS:,} applications with COPY in {time.perf_counter() - t0:.1f} s")
    agency = max(clerks, key=lambda a: len(clerks[a]))
    agency = "MHLW" if "MHLW" in clerks else agency
    await pages(conn, agency, clerks[agency][0])
    await conn.close()
    rates = {}
    for name, query in (("SKIP LOCKED", queries.CLAIM_OLDEST), ("plain FOR UPDATE", BLOCKING_CLAIM)):
        count, empty, elapsed = await claims(dsn, agency, clerks[agency], query)
        rates[name] = max(count, 1) / elapsed
        print(f"claims, {CLAIMERS} claimers, {name:<17} {count / elapsed:8.0f}/s  ({count} claimed, all distinct; "
              f"{empty} empty answers)")  # fmt: skip
    print(f"  SKIP LOCKED claims {rates['SKIP LOCKED'] / rates['plain FOR UPDATE']:.1f}x as fast as plain FOR UPDATE")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, embedded_postgres(Path(tmp) / "pgdata") as dsn:
        os.environ["DATABASE_URL"] = dsn
        quiet = io.StringIO()
        stdout, sys.stdout = sys.stdout, quiet
        try:
            for command in (
                ["db", "upgrade"],
                ["catalog", "load", str(SAMPLE_CATALOG)],
                ["forms", "publish", *sorted(str(p) for p in SAMPLE_FORMS.iterdir() if p.name.endswith(".yaml"))],
            ):
                if cli(command) != 0:
                    raise RuntimeError(f"shinsei {' '.join(command)} failed")
        finally:
            sys.stdout = stdout
        asyncio.run(run(dsn))


if __name__ == "__main__":
    main()
