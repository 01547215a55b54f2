"""Retention with a clock that moves: what is purged when, what a legal hold keeps, what remains after."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import retain_periodically
from service.audit import trail
from service.db import Database, init_connection
from service.retention import purge, tombstones
from service.retention.schemas import RunReport, Tombstone
from service.settings import Settings
from tests.api.test_queue import clerk
from tests.api.test_review import bearer, decide, slug, submit, view, withdraw
from tests.api.test_submissions import PDF
from tests.conftest import Tokens
from tests.service.test_cli import env_for, run

Client = AsyncTestClient[Litestar]
JST = dt.timezone(dt.timedelta(hours=9))


def end_of_period(start: dt.datetime, years: int) -> dt.datetime:
    """The rule, written again here: ``years`` after the 1 April (Japan time) that follows ``start``."""
    local = start.astimezone(JST)
    fiscal_year = local.year if local.month >= 4 else local.year - 1
    return dt.datetime(fiscal_year + 1 + years, 4, 1, tzinfo=JST)


async def run_at(db: str, at: dt.datetime, *, dry_run: bool = False, size: int = 2) -> RunReport:
    fresh = await asyncpg.connect(db)  # outside any transaction: each batch commits on its own
    try:
        await init_connection(fresh)
        return await purge.run(fresh, at, purge.Batches(size=size), dry_run=dry_run)
    finally:
        await fresh.close()


async def approved(client: Client, conn: asyncpg.Connection, **answers: Any) -> dict[str, Any]:
    """A submission, claimed, commented on and approved; with its receipt as the applicant downloaded it."""
    submission = await submit(client, conn, **answers)
    _, header = await clerk(conn)
    assert (await client.post("/api/v1/queue/claim", headers=header)).status_code == 200
    _, etag = await view(client, submission, header)
    comment = await client.post(
        f"{submission['links']['self']}/comments", json={"body": "内部メモ-ZQX"}, headers=header
    )
    assert comment.status_code == 201, comment.text
    decided = await decide(client, submission, header, etag, "approve", message="結果通知-QQZ")
    assert decided.status_code == 200, decided.text
    receipt = await client.get(submission["links"]["receipt"], headers=bearer(submission))
    notice = await client.get(f"{submission['links']['self']}/decision-notice.pdf", headers=bearer(submission))
    assert receipt.status_code == 200 and notice.status_code == 200
    return submission | {"receipt_json": receipt.content, "clerk": header}


async def decided_at(conn: asyncpg.Connection, submission: dict[str, Any]) -> dt.datetime:
    at: dt.datetime = await conn.fetchval(
        "SELECT decided_at FROM decision WHERE submission_id = $1", uuid.UUID(submission["submission_id"])
    )
    return at


async def test_the_period_ends_on_the_first_of_april_after_years(conn: asyncpg.Connection) -> None:
    cases = [
        (dt.datetime(2026, 11, 30, 12, 0, tzinfo=JST), 5, dt.datetime(2032, 4, 1, tzinfo=JST)),
        (dt.datetime(2027, 3, 31, 23, 59, tzinfo=JST), 5, dt.datetime(2032, 4, 1, tzinfo=JST)),
        (dt.datetime(2027, 4, 1, 0, 0, tzinfo=JST), 5, dt.datetime(2033, 4, 1, tzinfo=JST)),
        # 2027-03-31 15:00 UTC is already 1 April in Japan: the next fiscal year.
        (dt.datetime(2027, 3, 31, 15, 0, tzinfo=dt.UTC), 1, dt.datetime(2029, 4, 1, tzinfo=JST)),
        (dt.datetime(2027, 3, 31, 14, 59, tzinfo=dt.UTC), 1, dt.datetime(2028, 4, 1, tzinfo=JST)),
    ]
    for start, years, end in cases:
        assert await conn.fetchval("SELECT retention_until($1, $2)", start, years) == end == end_of_period(start, years)


async def test_retention_reached_purges_and_leaves_a_tombstone(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    submission = await approved(client, conn)
    still_open = await submit(client, conn)  # received, never decided: never purged
    sid = uuid.UUID(submission["submission_id"])
    until = end_of_period(await decided_at(conn, submission), 5)

    standing = await client.get(f"{submission['links']['self']}/retention", headers=bearer(submission))
    assert standing.status_code == 200, standing.text
    assert standing.json() == {
        "submission_id": str(sid), "status": "approved",
        "retention": {"years": 5, "from": "decided", "source": "agency"},
        "retain_until": until.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"), "on_hold": False, "hold": None,
        "purged": None,
    }  # fmt: skip

    # Not reached, by a second: nothing happens.
    assert (await run_at(db, until - dt.timedelta(seconds=1))).purged == []
    assert await conn.fetchval("SELECT document IS NOT NULL FROM revision WHERE submission_id = $1", sid)

    report = await run_at(db, until)
    [due] = report.purged
    assert (due.submission_id, due.receipt_numbers, due.status, due.retain_until) == (
        sid, [submission["receipt_number"]], "approved", until
    )  # fmt: skip
    # document, signature, attachment, receipt JSON + CMS, notice JSON + CMS + PDF, comment (the
    # receipt's PDF was never asked for, so never rendered).
    assert due.objects == 9
    assert (await run_at(db, until + dt.timedelta(days=365 * 50))).purged == []  # once only; the open one stays
    assert await conn.fetchval(
        "SELECT purged_at FROM submission WHERE id = $1", uuid.UUID(still_open["submission_id"])
    ) is None  # fmt: skip

    # Every view of the content: 410, saying when, pointing at the tombstone.
    for url, header in [
        (submission["links"]["self"], bearer(submission)),
        (submission["links"]["self"], submission["clerk"]),
        (submission["links"]["receipt"], bearer(submission)),
        (submission["links"]["bundle"], bearer(submission)),
        (submission["links"]["bundle"], submission["clerk"]),
        (f"{submission['links']['self']}/decision-notice.json", bearer(submission)),
        (f"{submission['links']['self']}/attachments/{hashlib.sha256(PDF).hexdigest()}", submission["clerk"]),
    ]:
        gone = await client.get(url, headers=header)
        assert (gone.status_code, gone.headers["content-type"], slug(gone)) == (
            410, "application/problem+json", "purged"
        ), url  # fmt: skip
        assert gone.json()["purged_at"] == until.astimezone(dt.UTC).isoformat()
        assert gone.json()["links"] == {"tombstone": f"{submission['links']['self']}/retention"}
        assert until.date().isoformat() in gone.json()["detail"]

    # The tombstone: receipt number, dates, final status, and the SHA-256 of what was deleted, so the
    # applicant's copy of the receipt still matches.
    after = await client.get(f"{submission['links']['self']}/retention", headers=bearer(submission))
    assert after.status_code == 200, after.text
    purged = after.json()["purged"]
    stone = purged["tombstone"]
    assert (stone["status"], stone["receipt_numbers"], stone["procedure"], stone["agency"]) == (
        "approved", [submission["receipt_number"]], "mhlw-36-agreement", "MHLW"
    )  # fmt: skip
    hashes = {(o["kind"], o["name"]): o["sha256"] for o in stone["objects"]}
    assert hashes[("document", None)] == hashlib.sha256(submission["document"]).hexdigest()
    assert hashes[("receipt_json", None)] == hashlib.sha256(submission["receipt_json"]).hexdigest()
    assert hashes[("attachment", "agreement")] == hashlib.sha256(PDF).hexdigest()
    [comment] = [o for o in stone["objects"] if o["kind"] == "comment"]
    assert comment["sha256"] == hashlib.sha256("内部メモ-ZQX".encode()).hexdigest()
    # The tombstone's own hash is the one on the audit trail, and it can be recomputed from what is shown.
    assert tombstones.digest(msgspec.convert(stone, Tombstone)).hex() == purged["sha256"]
    audit = await conn.fetchrow(
        "SELECT actor, action, details FROM audit_event WHERE subject = $1 AND action = 'submission.purged'", str(sid)
    )
    assert audit is not None and (audit["actor"], audit["action"]) == ("system", "submission.purged")
    assert audit["details"]["tombstone_sha256"] == purged["sha256"]
    assert audit["details"]["receipt_numbers"] == [submission["receipt_number"]]

    # Staff match an old receipt by its number; another agency's staff do not find it.
    _, other = await clerk(conn, "NTA")
    found = await client.get(f"/api/v1/retention/receipts/{submission['receipt_number']}", headers=submission["clerk"])
    assert found.status_code == 200 and found.json()["purged"]["sha256"] == purged["sha256"]
    hidden = await client.get(f"/api/v1/retention/receipts/{submission['receipt_number']}", headers=other)
    assert (hidden.status_code, slug(hidden)) == (404, "not-found")

    # The timeline's last word, without the decision's message, for the events outbox.
    events = await conn.fetch(
        "SELECT kind, message, at FROM submission_event WHERE submission_id = $1 ORDER BY id", sid
    )
    assert events[-1]["kind"] == "purged" and events[-1]["at"] == until
    assert all(e["message"] is None for e in events)

    # The chain verifies: the purge deleted content, never an audit event.
    verified = await trail.verify_chain(conn)
    assert verified.broken_at is None and verified.count > 0


async def _dump(conn: asyncpg.Connection) -> str:
    """Every row of every table, as text (bytea as hex): what a backup of the database would hold."""
    tables = await conn.fetch(
        "SELECT quote_ident(table_name) AS name FROM information_schema.tables"
        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    lines = []
    for t in tables:
        rows = await conn.fetch(f"SELECT t::text AS row FROM {t['name']} t")  # noqa: S608 - names from the catalogue
        lines += [r["row"] for r in rows]
    return "\n".join(lines)


async def test_a_dump_holds_nothing_of_a_purged_application(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    submission = await approved(client, conn)
    sid = uuid.UUID(submission["submission_id"])
    cms = await conn.fetchval(
        "SELECT g.cms FROM revision_signature g JOIN revision r ON r.id = g.revision_id WHERE r.submission_id = $1", sid
    )
    secrets = {
        "the signer's name": "山田 太郎", "the comment": "内部メモ-ZQX", "the decision's message": "結果通知-QQZ",
    }  # fmt: skip
    blobs = {"the document": submission["document"], "the file": PDF, "the signature": cms}
    before = await _dump(conn)
    for what, text in secrets.items():
        assert text in before or text.encode().hex() in before, what  # the check can fail
    for what, blob in blobs.items():
        assert blob.hex() in before, what

    await run_at(db, end_of_period(await decided_at(conn, submission), 5))
    after = await _dump(conn)
    for what, text in secrets.items():
        assert text not in after and text.encode().hex() not in after, what
    for what, blob in blobs.items():
        assert blob.hex() not in after, what
    # What remains is enough to match: the receipt number and the document's SHA-256.
    assert submission["receipt_number"] in after
    assert hashlib.sha256(submission["document"]).hexdigest() in after


async def test_a_legal_hold_keeps_an_application_until_released(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    submission = await approved(client, conn)
    hold_url = f"{submission['links']['self']}/hold"
    until = end_of_period(await decided_at(conn, submission), 5)
    head = await Tokens(conn).header("agency-admin", "MHLW")

    refused = await client.put(hold_url, json={"reason": "訴訟 令和8年(行ウ)第12号"}, headers=submission["clerk"])
    assert (refused.status_code, slug(refused)) == (403, "forbidden")
    stranger = await client.put(
        hold_url, json={"reason": "x"}, headers=await Tokens(conn).header("agency-admin", "NTA")
    )
    assert (stranger.status_code, slug(stranger)) == (404, "not-found")
    empty = await client.put(hold_url, json={"reason": ""}, headers=head)
    assert (empty.status_code, empty.json()["errors"][0]["pointer"]) == (422, "/reason")

    placed = await client.put(hold_url, json={"reason": "訴訟 令和8年(行ウ)第12号"}, headers=head)
    assert placed.status_code == 200, placed.text
    assert placed.json()["reason"] == "訴訟 令和8年(行ウ)第12号" and placed.json()["released_at"] is None

    report = await run_at(db, until + dt.timedelta(days=3650))
    assert (report.purged, report.held) == ([], 1)
    standing = (await client.get(f"{submission['links']['self']}/retention", headers=head)).json()
    assert standing["on_hold"] is True and standing["hold"]["reason"] == "訴訟 令和8年(行ウ)第12号"
    # The applicant learns that it is held, not why.
    own = (await client.get(f"{submission['links']['self']}/retention", headers=bearer(submission))).json()
    assert own["on_hold"] is True and own["hold"] is None

    released = await client.delete(hold_url, headers=head)
    assert released.status_code == 200 and released.json()["released_at"] is not None
    again = await client.delete(hold_url, headers=head)
    assert (again.status_code, slug(again)) == (404, "not-found")
    [due] = (await run_at(db, until + dt.timedelta(days=3650))).purged
    assert due.receipt_numbers == [submission["receipt_number"]]
    late = await client.put(hold_url, json={"reason": "遅すぎた"}, headers=head)
    assert (late.status_code, slug(late)) == (410, "purged")

    actions = [
        (r["action"], r["details"])
        for r in await conn.fetch(
            "SELECT action, details FROM audit_event WHERE subject = $1 AND action LIKE 'legal_hold.%' ORDER BY seq",
            submission["submission_id"],
        )
    ]
    reason_hash = hashlib.sha256("訴訟 令和8年(行ウ)第12号".encode()).hexdigest()
    assert actions == [
        ("legal_hold.placed", {"changed": False, "reason_sha256": reason_hash}), ("legal_hold.released", {})
    ]  # fmt: skip
    assert (await trail.verify_chain(conn)).broken_at is None


async def test_a_dry_run_changes_nothing(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    first, second = await approved(client, conn), await approved(client, conn)
    until = max([end_of_period(await decided_at(conn, s), 5) for s in (first, second)])
    await trail.seal(conn, wait=True)  # the app's sealer would otherwise change the audit rows meanwhile
    before = await _dump(conn)
    report = await run_at(db, until, dry_run=True, size=1)  # pages of one: the keyset walk is exercised
    assert report.dry_run is True
    assert sorted(n for due in report.purged for n in due.receipt_numbers) == sorted(
        [first["receipt_number"], second["receipt_number"]]
    )
    assert all(due.objects == 9 and due.bytes > len(PDF) for due in report.purged)
    assert await _dump(conn) == before
    assert len((await run_at(db, until, size=1)).purged) == 2


async def test_a_procedure_rule_overrides_the_agency(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    procedure = (await client.get("/api/v1/procedures/mhlw-36-agreement")).json()
    assert procedure["retention"] is None
    body = {k: v for k, v in procedure.items() if k not in ("digital_policy", "created_at", "updated_at")}
    head = await Tokens(conn).header("agency-admin", "MHLW")
    bad = await client.put(
        "/api/v1/procedures/mhlw-36-agreement", json=body | {"retention": {"years": 0, "from": "x"}}, headers=head
    )
    assert bad.status_code == 422
    changed = await client.put(
        "/api/v1/procedures/mhlw-36-agreement", json=body | {"retention": {"years": 1, "from": "received"}},
        headers=head,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["retention"] == {"years": 1, "from": "received"}

    decided = await approved(client, conn)
    still_open = await submit(client, conn)  # open: whatever the rule, nothing is purged before its final state
    standing = (await client.get(f"{still_open['links']['self']}/retention", headers=bearer(still_open))).json()
    assert standing["retention"] == {"years": 1, "from": "received", "source": "procedure"}
    assert standing["retain_until"] is None
    received_at = await conn.fetchval(
        "SELECT created_at FROM submission WHERE id = $1", uuid.UUID(decided["submission_id"])
    )
    until = end_of_period(received_at, 1)
    standing = (await client.get(f"{decided['links']['self']}/retention", headers=bearer(decided))).json()
    assert standing["retain_until"] == until.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    [due] = (await run_at(db, until)).purged
    assert due.receipt_numbers == [decided["receipt_number"]]
    agencies = (await client.get("/api/v1/agencies")).json()["items"]
    assert {a["code"]: a["retention"] for a in agencies}["MHLW"] == {"years": 5, "from": "decided"}


class Stop(Exception):
    pass


async def test_the_daily_job_purges_as_time_passes(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str, settings: Settings
) -> None:
    """The server's job, with a clock that jumps a year at each of its sleeps."""
    submission = await approved(client, conn)
    sid = uuid.UUID(submission["submission_id"])
    yearly = msgspec.structs.replace(settings, retention_seconds=365 * 86_400, retention_batch_size=5)
    clock, seen = [dt.datetime.now(dt.UTC)], []

    async def sleep(seconds: float) -> None:
        seen.append(await conn.fetchval("SELECT purged_at IS NOT NULL FROM submission WHERE id = $1", sid))
        if len(seen) == 8:
            raise Stop
        clock[0] += dt.timedelta(seconds=seconds)

    pool = await asyncpg.create_pool(db, min_size=1, max_size=1, init=init_connection)
    try:
        with pytest.raises(Stop):
            await retain_periodically(Database(pool, yearly), yearly, clock=lambda: clock[0], sleep=sleep)
    finally:
        await pool.close()
    # Five years after the April after the decision: kept for the first runs, purged by the seventh.
    assert seen[:2] == [False, False] and seen[-1] is True
    assert seen.index(True) in (6, 7)


async def test_the_command_dry_then_for_real_and_the_chain_verifies(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    """``shinsei retention run`` against an application decided seven years ago (its dates moved back)."""
    submission = await approved(client, conn)
    sid = uuid.UUID(submission["submission_id"])
    await conn.execute("UPDATE decision SET decided_at = decided_at - interval '7 years' WHERE submission_id = $1", sid)
    await conn.execute("UPDATE submission SET created_at = created_at - interval '7 years' WHERE id = $1", sid)
    until = end_of_period(await decided_at(conn, submission), 5).date().isoformat()
    number = submission["receipt_number"]

    dry = await asyncio.to_thread(run, ["retention", "run", "--dry-run"], env_for(db))
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].startswith(f"would purge {number} (approved, kept until {until}): 9 objects, ")
    assert lines[1].startswith("would purge 1 applications (9 objects, ")
    assert lines[1].endswith("; 0 past retention kept by a legal hold")
    assert await conn.fetchval("SELECT purged_at FROM submission WHERE id = $1", sid) is None
    # Dry, as of a date before the period ends: nothing would go.
    early = await asyncio.to_thread(run, ["retention", "run", "--dry-run", "--as-of", "2000-01-01"], env_for(db))
    assert (early.returncode, early.stdout.splitlines()[0][:29]) == (0, "would purge 0 applications (0")
    refused = await asyncio.to_thread(run, ["retention", "run", "--as-of", "2000-01-01"], env_for(db))
    assert refused.returncode == 2 and "--as-of only with --dry-run" in refused.stderr

    done = await asyncio.to_thread(run, ["retention", "run"], env_for(db))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"purged {number} (approved, kept until {until}): 9 objects, ")
    assert await conn.fetchval("SELECT purged_at FROM submission WHERE id = $1", sid) is not None
    verified = await asyncio.to_thread(run, ["audit", "verify"], env_for(db))
    assert verified.returncode == 0 and verified.stdout.endswith("\n") and "events; head " in verified.stdout


async def test_a_withdrawn_application_counts_from_its_withdrawal(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    submission = await submit(client, conn)
    assert (await withdraw(client, submission)).status_code == 200
    sid = uuid.UUID(submission["submission_id"])
    withdrawn_at = await conn.fetchval(
        "SELECT at FROM submission_event WHERE submission_id = $1 AND kind = 'withdrawn'", sid
    )
    until = end_of_period(withdrawn_at, 5)
    assert (await run_at(db, until - dt.timedelta(microseconds=1))).purged == []
    [due] = (await run_at(db, until)).purged
    assert (due.status, due.receipt_numbers) == ("withdrawn", [submission["receipt_number"]])
    stone = (await client.get(f"{submission['links']['self']}/retention", headers=bearer(submission))).json()
    assert stone["purged"]["tombstone"]["closed_at"] == withdrawn_at.isoformat().replace("+00:00", "Z")


async def test_a_run_skips_what_a_hold_being_placed_has_locked(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    """A hold takes the application's row lock; the run neither waits for it nor purges under it."""
    submission = await approved(client, conn)
    until = end_of_period(await decided_at(conn, submission), 5)
    holder = await asyncpg.connect(db)
    try:
        async with holder.transaction():
            await holder.execute(
                "SELECT 1 FROM submission WHERE id = $1 FOR UPDATE", uuid.UUID(submission["submission_id"])
            )
            report = await asyncio.wait_for(run_at(db, until), timeout=10)
    finally:
        await holder.close()
    assert report.purged == []
    [due] = (await run_at(db, until)).purged
    assert due.receipt_numbers == [submission["receipt_number"]]
