"""Card sign-in through HTTP: the authentication key signs in, a signing key of the card links it once."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import uuid
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.applicants.service import purge_expired_sign_in
from tests import pki
from tests.api.test_submissions import document, new_nonce, parts

Client = AsyncTestClient[Litestar]
PROBLEMS = "https://shinsei.example/problems/"


async def submit_as(client: Client, label: str) -> str:
    doc = document(await new_nonce(client))
    signature = await asyncio.to_thread(pki.sign_pyhanko, label, doc)
    response = await client.post("/api/v1/submissions", files=parts(doc, [signature]))
    assert response.status_code == 201, response.text
    submission_id: str = response.json()["submission_id"]
    return submission_id


async def challenge(client: Client) -> tuple[str, bytes]:
    response = await client.post("/api/v1/applicant/challenge")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["document"] == f'{{"challenge":"{body["challenge"]}","purpose":"shinsei-applicant-sign-in"}}'
    return body["challenge"], body["document"].encode()


async def signed_in(client: Client, auth: str = "auth-applicant", link: str | None = None) -> Any:
    nonce, doc = await challenge(client)
    body: dict[str, Any] = {
        "challenge": nonce,
        "signature": base64.b64encode(await asyncio.to_thread(pki.sign_pyhanko, auth, doc)).decode(),
    }
    if link is not None:
        body["link_signature"] = base64.b64encode(await asyncio.to_thread(pki.sign_pyhanko, link, doc)).decode()
    return await client.post("/api/v1/applicant/session", json=body)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_sign_in_links_the_card_then_lists_the_holders_applications(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    mine = [await submit_as(client, "applicant"), await submit_as(client, "applicant-renewed")]
    mine.append(await submit_as(client, "applicant"))
    theirs = await submit_as(client, "second-applicant")

    unlinked = await signed_in(client)
    assert unlinked.status_code == 401
    assert unlinked.json()["type"] == PROBLEMS + "card-not-linked"
    assert unlinked.headers["www-authenticate"] == 'Bearer realm="shinsei"'

    linked = await signed_in(client, link="applicant")
    assert linked.status_code == 201, linked.text
    session = linked.json()
    assert (session["linked"], session["session_token"][:4]) == (True, "aps_")
    stored = await conn.fetchval("SELECT token_hash FROM applicant_session")
    assert stored == hashlib.sha256(session["session_token"].encode()).digest()
    link = await conn.fetchrow("SELECT identity, auth_certificate_sha256 FROM card_link")
    assert link is not None
    assert link["identity"] == {"class": "jpki", "name": "山田太郎", "birth_date": "1990-02-15"}
    assert link["auth_certificate_sha256"] == hashlib.sha256(pki.cert("auth-applicant").dump()).digest()

    first = await client.get("/api/v1/applicant/submissions?limit=2", headers=bearer(session["session_token"]))
    assert first.status_code == 200, first.text
    page_one = first.json()
    assert [i["submission_id"] for i in page_one["items"]] == [mine[2], mine[1]]
    assert page_one["items"][0]["receipt_number"].startswith("MHLW-")
    assert page_one["items"][0]["status"] == "received"
    rest = await client.get(
        "/api/v1/applicant/submissions", params={"limit": 2, "cursor": page_one["next_cursor"]},
        headers=bearer(session["session_token"]),
    )  # fmt: skip
    assert ([i["submission_id"] for i in rest.json()["items"]], rest.json()["next_cursor"]) == ([mine[0]], None)
    assert theirs not in {i["submission_id"] for i in page_one["items"] + rest.json()["items"]}

    # Once linked, the authentication key alone signs in.
    again = await signed_in(client)
    assert (again.status_code, again.json()["linked"]) == (201, False)

    signed_out = await client.delete("/api/v1/applicant/session", headers=bearer(session["session_token"]))
    assert signed_out.status_code == 204
    after = await client.get("/api/v1/applicant/submissions", headers=bearer(session["session_token"]))
    assert (after.status_code, after.json()["type"]) == (401, PROBLEMS + "unauthenticated")
    await conn.execute(
        "UPDATE applicant_session SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'"
    )
    expired = await client.get("/api/v1/applicant/submissions", headers=bearer(again.json()["session_token"]))
    assert expired.status_code == 401


async def test_refusals(client: Client, admin: dict[str, str], conn: asyncpg.Connection) -> None:
    signing_key = await signed_in(client, auth="applicant")
    assert signing_key.status_code == 401
    problem = signing_key.json()
    assert problem["type"] == PROBLEMS + "authentication-failed"
    assert problem["detail"] == (
        "The signature with the card's authentication certificate does not verify: CHAIN_CONSTRAINTS_FAILURE."
    )
    assert problem["report"]["sub_indication"] == "CHAIN_CONSTRAINTS_FAILURE"

    # A link by a certificate that is not a JPKI signing certificate links nothing.
    corporate = await signed_in(client, link="corporate-rep")
    assert (corporate.status_code, corporate.json()["type"]) == (401, PROBLEMS + "authentication-failed")
    assert "link_signature" in corporate.json()["detail"]
    assert await conn.fetchval("SELECT count(*) FROM card_link") == 0

    nonce, doc = await challenge(client)
    other = doc.replace(nonce.encode(), b"x" * len(nonce))
    wrong_bytes = {
        "challenge": nonce,
        "signature": base64.b64encode(pki.sign_pyhanko_sync("auth-applicant", other)).decode(),
    }
    refused = await client.post("/api/v1/applicant/session", json=wrong_bytes)
    assert refused.json()["report"]["sub_indication"] == "HASH_FAILURE"

    good = {"challenge": nonce, "signature": base64.b64encode(pki.sign_pyhanko_sync("auth-applicant", doc)).decode()}
    good["link_signature"] = base64.b64encode(pki.sign_pyhanko_sync("applicant", doc)).decode()
    assert (await client.post("/api/v1/applicant/session", json=good)).status_code == 201
    replayed = await client.post("/api/v1/applicant/session", json=good)
    assert (replayed.status_code, replayed.json()["detail"]) == (
        401, "The challenge is unknown, already used, or expired; ask for a new one.",
    )  # fmt: skip
    unknown = good | {"challenge": uuid.uuid4().hex}
    assert (await client.post("/api/v1/applicant/session", json=unknown)).status_code == 401

    malformed = await client.post("/api/v1/applicant/session", json={"challenge": "short", "signature": "!!"})
    assert malformed.status_code == 422
    assert {e["pointer"] for e in malformed.json()["errors"]} == {"/challenge", "/signature"}
    assert (await client.get("/api/v1/applicant/submissions")).status_code == 401
    wrong = await client.get("/api/v1/applicant/submissions", headers=bearer("aps_nope"))
    assert wrong.status_code == 401


async def test_purge_expired_challenges_and_sessions(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    session = (await signed_in(client, link="applicant")).json()
    await challenge(client)
    kept, _ = await challenge(client)
    await conn.execute(
        "UPDATE applicant_challenge SET issued_at = now() - interval '1 hour', expires_at = now() - interval '1 minute'"
        " WHERE challenge <> $1",
        kept,
    )
    await conn.execute(
        "UPDATE applicant_session SET created_at = now() - interval '1 hour', expires_at = now() - interval '1 minute'"
    )
    async with conn.transaction():
        assert await purge_expired_sign_in(conn, dt.datetime.now(dt.UTC), 10) == 3  # two challenges, one session
    assert [r["challenge"] for r in await conn.fetch("SELECT challenge FROM applicant_challenge")] == [kept]
    assert await conn.fetchval("SELECT count(*) FROM applicant_session") == 0
    listed = await client.get("/api/v1/applicant/submissions", headers=bearer(session["session_token"]))
    assert listed.status_code == 401
