"""The transactional outbox and the event feed: every public event type, written with its change."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.events.schemas import EVENT_TYPES
from service.settings import Settings
from service.submissions.reverify import reverify_pending
from service.trust.service import Verifiers
from tests import pki
from tests.api.test_queue import clerk
from tests.api.test_review import decide, submit, view, withdraw
from tests.api.test_submissions import PDF, add_ocsp, document, new_nonce, now, parts
from tests.conftest import Tokens

Client = AsyncTestClient[Litestar]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No sealing job: a transaction of its own running at the wrong moment would hold the feed back."""
    return msgspec.structs.replace(settings, audit_seal_seconds=0, webhook_seconds=0)


async def a_day_of_applications(client: Client, conn: asyncpg.Connection, tokens: Tokens) -> dict[str, Any]:
    """Every state change that has a public event, through the API (and the re-verification job).

    Returns the submissions by name. Each event type of EVENT_TYPES happens at least once, the
    forms published by ``admin`` included.
    """
    clerk_header = (await clerk(conn))[1]
    admin = await tokens.header("admin")
    made: dict[str, Any] = {}

    # Received, sent back for correction, amended, approved.
    made["corrected"] = first = await submit(client, conn)
    assert (await client.post("/api/v1/queue/claim", headers=clerk_header)).status_code == 200
    _, etag = await view(client, first, clerk_header)
    sent_back = await decide(client, first, clerk_header, etag, "request_correction", fields=["/answers/workers"])
    assert sent_back.status_code == 200, sent_back.text
    amendment = msgspec.json.encode(
        msgspec.json.decode(document(await new_nonce(client), workers=20))
        | {"amends": {"submission_id": first["submission_id"],
                      "document_sha256": hashlib.sha256(first["document"]).hexdigest()}}
    )  # fmt: skip
    await add_ocsp(conn, "applicant")
    amended = await client.post(
        "/api/v1/submissions", files=parts(amendment, [pki.sign_openssl("applicant", amendment)], [PDF])
    )
    assert amended.status_code == 201, amended.text
    _, etag = await view(client, first, clerk_header)
    assert (await decide(client, first, clerk_header, etag, "approve")).status_code == 200

    # Received and withdrawn by the applicant.
    made["withdrawn"] = second = await submit(client, conn)
    assert (await withdraw(client, second)).status_code == 200

    # Received and rejected.
    made["rejected"] = third = await submit(client, conn)
    assert (await client.post("/api/v1/queue/claim", headers=clerk_header)).status_code == 200
    _, etag = await view(client, third, clerk_header)
    assert (await decide(client, third, clerk_header, etag, "reject")).status_code == 200

    # Pending signatures judged later: one confirmed, one revoked.
    await conn.execute("DELETE FROM trust_crl")
    await conn.execute("DELETE FROM trust_ocsp")
    for name, label in (("confirmed", "applicant"), ("invalid", "revoked-applicant")):
        nonce = await new_nonce(client)
        doc = document(nonce)
        response = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl(label, doc)]))
        assert response.status_code == 201, response.text
        assert response.json()["verification"]["status"] == "pending"
        made[name] = response.json()
    await add_ocsp(conn, "applicant")
    await add_ocsp(conn, "revoked-applicant")
    async with conn.transaction():
        outcome = await reverify_pending(conn, await Verifiers().current(conn), now())
    assert (outcome["passed"], outcome["failed"], outcome["confirmed"]) == (1, 1, 1)

    # A form version retired; an application purged (as the retention run records it).
    assert (await client.post("/api/v1/forms/t-two/versions/1/retire", headers=admin)).status_code == 200
    await conn.execute(
        "INSERT INTO submission_event (submission_id, kind) VALUES ($1, 'purged')", made["rejected"]["submission_id"]
    )
    return made


async def feed(client: Client, header: dict[str, str], limit: int = 3, **params: Any) -> list[dict[str, Any]]:
    """Every page of the feed, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {"limit": limit, **params} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/api/v1/events", params=query, headers=header)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the feed did not end")


def lifecycle(items: list[dict[str, Any]], submission: dict[str, Any]) -> list[str]:
    return [e["type"] for e in items if e["data"].get("submission_id") == submission["submission_id"]]


async def test_every_event_type_is_written_with_its_change_and_paged_by_the_feed(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens
) -> None:
    made = await a_day_of_applications(client, conn, tokens)
    mhlw = await tokens.header("agency-admin", "MHLW")
    items = await feed(client, mhlw)
    assert {e["type"] for e in items} == set(EVENT_TYPES)
    assert len({e["id"] for e in items}) == len(items)
    assert lifecycle(items, made["corrected"]) == [
        "submission.received", "correction.requested", "submission.amended", "decision.made",
    ]  # fmt: skip
    assert lifecycle(items, made["withdrawn"]) == ["submission.received", "submission.withdrawn"]
    assert lifecycle(items, made["rejected"]) == ["submission.received", "decision.made", "submission.purged"]
    # pending -> passed and confirmed by the same OCSP answer: one event, not two
    assert lifecycle(items, made["confirmed"]) == ["submission.received", "signature.confirmed"]
    assert lifecycle(items, made["invalid"]) == ["submission.received", "signature.invalid"]

    approved = next(e for e in items if e["type"] == "decision.made")
    sid = made["corrected"]["submission_id"]
    assert approved["data"] == {
        "submission_id": sid, "revision_id": approved["data"]["revision_id"], "revision": 2,
        "receipt_number": made["corrected"]["receipt_number"].replace("000001", "000002"), "agency": "MHLW",
        "procedure_id": "mhlw-36-agreement", "form_id": "t-overtime", "status": "approved", "decision": "approved",
        "links": {"submission": f"/api/v1/submissions/{sid}",
                  "decision_notice": f"/api/v1/submissions/{sid}/decision-notice.json"},
    }  # fmt: skip
    confirmed = next(e for e in items if e["type"] == "signature.confirmed")
    assert confirmed["data"]["verification"] == {"status": "passed", "confirmed": True}
    invalid = next(e for e in items if e["type"] == "signature.invalid")
    assert (invalid["data"]["status"], invalid["data"]["verification"]["status"]) == ("signature_invalid", "failed")
    retired = next(e for e in items if e["type"] == "form.retired")
    assert retired["data"] | {"sha256": None} == {
        "form_id": "t-two", "version": 1, "agency": "MHLW", "procedure_id": "mhlw-36-agreement", "status": "retired",
        "sha256": None, "links": {"form_version": "/api/v1/forms/t-two/versions/1"},
    }  # fmt: skip
    # Ids, numbers and links only: no answers, no names, no personal data of the applicant.
    text = msgspec.json.encode(items).decode()
    for personal in ("山田", "太郎", "applicant_name", "workers", "協定書", "1990"):
        assert personal not in text

    # Every page size gives the same events in the same order; the types filter selects.
    assert await feed(client, mhlw, limit=200) == items
    decisions = await feed(client, mhlw, type=["decision.made", "correction.requested"])
    assert decisions == [e for e in items if e["type"] in ("decision.made", "correction.requested")]


async def test_the_feed_is_agency_scoped_and_its_cursor_checked(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens
) -> None:
    await submit(client, conn)
    mhlw = await feed(client, await tokens.header("agency-admin", "MHLW"))
    moj = await feed(client, await tokens.header("agency-admin", "MOJ"))
    assert [e["type"] for e in mhlw] == ["form.published", "form.published", "submission.received"]
    assert [(e["type"], e["data"]["form_id"]) for e in moj] == [("form.published", "t-seal")]
    assert await feed(client, (await clerk(conn))[1]) == mhlw  # the agency's clerks may pull too
    every = await feed(client, admin)
    assert len(every) == 4 and await feed(client, admin, agency="MOJ") == moj
    # An agency admin's agency filter is its own, whatever it asks.
    assert await feed(client, await tokens.header("agency-admin", "MOJ"), agency="MHLW") == moj

    bad = await client.get("/api/v1/events", params={"cursor": "not-ours"}, headers=admin)
    assert (bad.status_code, bad.json()["errors"]) == (
        400, [{"parameter": "cursor", "code": "invalid", "detail": "is not a valid cursor"}]
    )  # fmt: skip
    assert (await client.get("/api/v1/events")).status_code == 401
    assert (await client.get("/api/v1/events", params={"limit": 201}, headers=admin)).status_code == 400


async def test_an_open_transaction_holds_the_feed_back_instead_of_being_skipped(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens, db: str
) -> None:
    """An event whose transaction commits after a later one's is still listed, in commit order."""
    header = await tokens.header("agency-admin", "MHLW")
    before = await feed(client, header)
    slow = await asyncpg.connect(db)
    try:
        transaction = slow.transaction()
        await transaction.start()
        # Takes its outbox id first, commits last.
        await slow.execute(
            "UPDATE form_version SET status = 'retired', retired_at = now() WHERE form_id = 't-two' AND version = 1"
        )
        await submit(client, conn)  # commits an event with a larger id
        assert await feed(client, header) == before  # held back: not shown, so never skipped
        await transaction.commit()
    finally:
        await slow.close()
    after = await feed(client, header)
    assert after[: len(before)] == before
    assert [e["type"] for e in after[len(before) :]] == ["form.retired", "submission.received"]
