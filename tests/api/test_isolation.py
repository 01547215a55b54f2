"""Agency isolation over every route of the OpenAPI document.

Staff of another agency must not be able to tell one agency's objects from objects that do not
exist: for every operation, the answer about a real MHLW object must equal the answer about a made-up
one (status and problem type), unless the object is public (an anonymous caller gets it too), in
which case they get exactly what the public gets. Application routes answer 404 outright. Lists
never include another agency's objects.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.auth import service as auth_service
from service.auth.schemas import TokenIn
from tests.api.conftest import FORM
from tests.api.test_review import submit
from tests.api.test_submissions import PDF
from tests.conftest import Tokens

Client = AsyncTestClient[Litestar]
METHODS = ("get", "post", "put", "patch", "delete")


async def call(client: Client, method: str, path: str, header: dict[str, str] | None, body: Any) -> tuple[int, str]:
    kwargs: dict[str, Any] = {"headers": header or {}}
    if method in ("post", "put", "patch"):
        kwargs["json"] = body
    response = await client.request(method.upper(), path, **kwargs)
    kind = (
        response.json().get("type", "")
        if response.headers.get("content-type", "").startswith("application/problem+json")
        else ""
    )
    return response.status_code, kind


def fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


async def test_another_agency_cannot_see_or_touch_anything(
    client: Client, app: Litestar, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens
) -> None:
    submission = await submit(client, conn)
    mhlw_head = await tokens.header("agency-admin", "MHLW")
    draft = FORM | {"id": "t-private-draft"}
    assert (await client.post("/api/v1/forms", json=draft, headers=mhlw_head)).status_code == 201
    mhlw_clerk = await auth_service.issue_token(conn, TokenIn(role="clerk", agency="MHLW"))
    mhlw_clerk_header = {"Authorization": f"Bearer {mhlw_clerk.token}"}
    await client.post("/api/v1/queue/claim", headers=mhlw_clerk_header)
    note = {"body": "内部"}
    assert (
        await client.post(f"{submission['links']['self']}/comments", json=note, headers=mhlw_clerk_header)
    ).is_success
    anchor_id = (await client.get("/api/v1/trust/anchors", headers=admin)).json()["items"][0]["id"]
    before = await conn.fetchrow("SELECT status, assignee, updated_at FROM submission")
    # An applicant's draft: staff tokens are not its token, whatever their agency.
    saved = await client.post("/api/v1/drafts", json={"form_id": "t-overtime", "answers": {"workers": 1}})
    draft_id = saved.json()["draft_id"]

    # A webhook endpoint of MHLW's (inactive: nothing is sent anywhere) with one delivery.
    hook = {"url": "https://93.184.215.14/hook", "event_types": ["submission.received"], "active": False}
    webhook = (await client.post("/api/v1/webhooks", json=hook, headers=mhlw_head)).json()["webhook"]
    delivery_id = await conn.fetchval(
        "INSERT INTO webhook_delivery (endpoint_id, event_id, subject)"
        " SELECT $1, id, subject FROM outbox_event WHERE type = 'submission.received' RETURNING id",
        uuid.UUID(webhook["id"]),
    )

    real = {
        "submission_id": submission["submission_id"], "sha256": hashlib.sha256(PDF).hexdigest(),
        "form_id": "t-private-draft", "number": "1", "a": "1", "b": "1", "code": "MHLW",
        "procedure_id": "mhlw-36-agreement", "token_id": str(mhlw_clerk.info.id), "anchor_id": anchor_id,
        "draft_id": draft_id, "receipt_number": submission["receipt_number"],
        "webhook_id": webhook["id"], "delivery_id": str(delivery_id),
        "pointer": "applicant_name",
    }  # fmt: skip
    fake = {
        "submission_id": str(uuid.uuid4()), "sha256": "00" * 32, "form_id": "no-such-form", "number": "1", "a": "1",
        "b": "1", "code": "NOPE", "procedure_id": "no-such-procedure", "token_id": str(uuid.uuid4()),
        "anchor_id": str(uuid.uuid4()), "draft_id": str(uuid.uuid4()), "receipt_number": "MHLW-2026-999999",
        "webhook_id": str(uuid.uuid4()), "delivery_id": str(uuid.uuid4()),
        "pointer": "applicant_name",
    }  # fmt: skip
    procedure = (await client.get("/api/v1/procedures/mhlw-36-agreement")).json()
    fields = ("name_ja", "name_en", "legal_basis", "legacy", "reform")
    # Valid bodies (naming the path's object), so that what is compared is the answer about the object.
    bodies: dict[str, Callable[[dict[str, str]], Any]] = {
        "/api/v1/submissions/{submission_id}/decision": lambda v: {"decision": "approve", "message": "x"},
        "/api/v1/submissions/{submission_id}/comments": lambda v: {"body": "x"},
        "/api/v1/submissions/{submission_id}/hold": lambda v: {"reason": "x"},
        "/api/v1/submissions/{submission_id}/assign": lambda v: {"clerk": str(mhlw_clerk.info.id)},
        "/api/v1/forms/{form_id}/draft": lambda v: draft | {"id": v["form_id"]},
        "/api/v1/procedures/{procedure_id}": lambda v: (
            {k: procedure[k] for k in fields} | {"id": v["procedure_id"], "agency": "MOJ"}
        ),
        "/api/v1/agencies/{code}": lambda v: {"code": v["code"], "name_ja": "乗っ取り", "name_en": "Taken"},
        "/api/v1/webhooks/{webhook_id}": lambda v: {"active": True},
    }
    foreign = {"clerk": await tokens.header("clerk", "MOJ"), "agency-admin": await tokens.header("agency-admin", "MOJ")}
    document = app.openapi_schema.to_schema()
    checked = 0
    for template, operations in document["paths"].items():
        if "{" not in template:
            continue
        for method in (m for m in METHODS if m in operations):
            body = bodies.get(template, lambda v: {})
            public = await call(client, method, fill(template, real), None, body(real))
            for role, header in foreign.items():
                seen = await call(client, method, fill(template, real), header, body(real))
                where = (method.upper(), template, role, seen)
                if 200 <= public[0] < 300:
                    assert seen[0] == public[0], where  # public data: no more, no less
                    continue
                assert seen == await call(client, method, fill(template, fake), header, body(fake)), where
                assert not 200 <= seen[0] < 300, where
                if template.startswith("/api/v1/submissions/{submission_id}"):
                    assert seen[0] == 404, where
                checked += 1
    assert checked >= 2 * 25  # every agency-scoped operation, for both roles

    # Nothing changed, and the lists show nothing of MHLW's.
    assert await conn.fetchrow("SELECT status, assignee, updated_at FROM submission") == before
    assert await conn.fetchval("SELECT count(*) FROM comment") == 1
    assert await conn.fetchval("SELECT count(*) FROM decision") == 0
    assert await conn.fetchval("SELECT answers FROM draft") == {"workers": 1}
    assert (await client.get("/api/v1/procedures/mhlw-36-agreement")).json() == procedure
    assert (await client.get("/api/v1/agencies/MHLW")).json()["name_ja"] == "厚生労働省"
    for role, header in foreign.items():
        queue = (await client.get("/api/v1/queue", params={"status": "under_review"}, headers=header)).json()
        assert queue["items"] == [], role
        forms = (await client.get("/api/v1/forms", headers=header)).json()["items"]
        assert "t-private-draft" not in {f["id"] for f in forms}, role
    assert (await client.get(f"/api/v1/webhooks/{webhook['id']}", headers=mhlw_head)).json() == webhook
    assert await conn.fetchval("SELECT attempts FROM webhook_delivery") == 0
    assert (await client.get("/api/v1/webhooks", headers=foreign["agency-admin"])).json()["items"] == []
    for role, header in foreign.items():
        events = (await client.get("/api/v1/events", headers=header)).json()["items"]
        assert {e["data"]["agency"] for e in events} <= {"MOJ"}, role
    listed = (await client.get("/api/v1/tokens", headers=foreign["agency-admin"])).json()["items"]
    assert {t["agency"] for t in listed} == {"MOJ"}
    claimed = await client.post("/api/v1/queue/claim", headers=foreign["clerk"])
    assert claimed.status_code == 204
