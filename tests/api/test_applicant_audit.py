"""Drafts and card sign-ins on the audit trail: what happened to which draft or session, never whose data."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.audit import trail
from tests.api.test_applicant_session import signed_in
from tests.api.test_drafts import MERGE, PDF_ANSWER, new_draft, upload

Client = AsyncTestClient[Litestar]
#: What must never reach the trail: the answers and the card holder's items.
PERSONAL = ("山田", "太郎", "1990-02-15", "協定書", "applicant_name")


async def events(conn: asyncpg.Connection, prefix: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT actor, role, agency_code, action, subject, details FROM audit_event WHERE action LIKE $1 ORDER BY seq",
        prefix + "%",
    )
    return [dict(row) for row in rows]


async def test_drafts_are_audited_without_their_answers(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    kept, token, _ = await new_draft(client, {"workers": 12, "applicant_name": "山田 太郎"})
    await upload(client, kept, token)
    more = {"answers": {"agreement": PDF_ANSWER}}
    assert (await client.patch(f"/api/v1/drafts/{kept}", json=more, headers=token | MERGE)).status_code == 200
    assert (await client.post(f"/api/v1/drafts/{kept}/finalize", headers=token)).status_code == 200
    dropped, other, _ = await new_draft(client, {"applicant_name": "山田 太郎"})
    assert (await client.delete(f"/api/v1/drafts/{dropped}", headers=other)).status_code == 204
    # Refused requests leave nothing: a wrong token, an unfinished draft.
    assert (await client.delete(f"/api/v1/drafts/{kept}", headers=other)).status_code == 404

    form = {"form_id": "t-overtime", "form_version": 1}
    applicant: dict[str, Any] = {"actor": "applicant", "role": "applicant", "agency_code": None}
    assert await events(conn, "draft.") == [
        applicant | {"action": "draft.created", "subject": kept, "details": form},
        applicant | {"action": "draft.finalised", "subject": kept, "details": form},
        applicant | {"action": "draft.created", "subject": dropped, "details": form},
        applicant | {"action": "draft.deleted", "subject": dropped, "details": form},
    ]
    written = msgspec.json.encode(await events(conn, "draft.")).decode()
    assert not [word for word in PERSONAL if word in written]
    assert (await trail.verify_chain(conn)).broken_at is None  # sealed into the chain like any other event


async def test_a_sign_in_is_audited_without_the_holder(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    assert (await signed_in(client)).status_code == 401  # not linked yet: no session, no event
    linked = await signed_in(client, link="applicant")
    assert linked.status_code == 201, linked.text
    again = await signed_in(client)
    assert again.status_code == 201, again.text

    digests = [hashlib.sha256(s.json()["session_token"].encode()).hexdigest() for s in (linked, again)]
    applicant: dict[str, Any] = {"actor": "applicant", "role": "applicant", "agency_code": None}
    opened = "applicant.session_opened"
    assert await events(conn, "applicant.") == [
        applicant | {"action": opened, "subject": digests[0], "details": {"linked": True, "test": False}},
        applicant | {"action": opened, "subject": digests[1], "details": {"linked": False, "test": False}},
    ]
    written = msgspec.json.encode(await events(conn, "applicant.")).decode()
    assert not [word for word in PERSONAL if word in written]
