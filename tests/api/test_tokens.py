"""Token lifecycle: issued once, stored hashed, listed without secrets, revoked for good."""

from __future__ import annotations

import hashlib

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Tokens


async def test_token_lifecycle(client: AsyncTestClient[Litestar], tokens: Tokens, conn: asyncpg.Connection) -> None:
    admin = await tokens.header("admin")
    created = await client.post(
        "/api/v1/tokens", json={"role": "clerk", "agency": "MHLW", "name": "窓口1"}, headers=admin
    )
    assert created.status_code == 201
    secret = created.json()["token"]
    info = created.json()["info"]
    assert secret.startswith("shs_") and len(secret) >= 40
    assert info["role"] == "clerk" and info["agency"] == "MHLW" and info["revoked_at"] is None

    # Only the hash is stored.
    stored = await conn.fetchval("SELECT token_hash FROM api_token WHERE id = $1", info["id"])
    assert stored == hashlib.sha256(secret.encode()).digest()
    dump = await conn.fetch("SELECT * FROM api_token")
    assert all(secret not in str(dict(row)) for row in dump)

    # The clerk's token works, and is not an admin's.
    clerk = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/api/v1/tokens", headers=clerk)).status_code == 403

    listed = await client.get("/api/v1/tokens", headers=admin)
    assert listed.status_code == 200
    assert info["id"] in [t["id"] for t in listed.json()["items"]]
    assert secret not in listed.text
    assert all("token" not in t for t in listed.json()["items"])

    assert (await client.delete(f"/api/v1/tokens/{info['id']}", headers=admin)).status_code == 204
    assert (await client.delete(f"/api/v1/tokens/{info['id']}", headers=admin)).status_code == 204  # idempotent
    rejected = await client.get("/api/v1/tokens", headers=clerk)
    assert rejected.status_code == 401
    assert rejected.json()["detail"] == "The bearer token is unknown or has been revoked."

    listed = await client.get("/api/v1/tokens?agency=MHLW", headers=admin)
    assert [t["revoked_at"] is not None for t in listed.json()["items"]] == [True]


async def test_token_agency_rules(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    admin = await tokens.header("admin")
    no_agency = await client.post("/api/v1/tokens", json={"role": "clerk"}, headers=admin)
    assert no_agency.status_code == 422
    assert no_agency.json()["errors"] == [
        {"code": "agency", "detail": "is required for this role", "pointer": "/agency"}
    ]
    admin_with_agency = await client.post("/api/v1/tokens", json={"role": "admin", "agency": "MHLW"}, headers=admin)
    assert admin_with_agency.status_code == 422
    unknown = await client.post("/api/v1/tokens", json={"role": "clerk", "agency": "NOPE"}, headers=admin)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["code"] == "unknown_agency"


async def test_unknown_token_id_is_404(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    admin = await tokens.header("admin")
    response = await client.delete("/api/v1/tokens/00000000-0000-0000-0000-000000000000", headers=admin)
    assert response.status_code == 404


async def test_token_list_pages(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    admin = await tokens.header("admin")
    for _ in range(4):
        await tokens.header("clerk", "MLIT")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/tokens", params=params, headers=admin)).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5


async def test_agency_admins_manage_their_own_clerks(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    head = await tokens.header("agency-admin", "MHLW")
    other = await tokens.header("agency-admin", "MOJ")
    issued = await client.post("/api/v1/tokens", json={"role": "clerk", "name": "審査係"}, headers=head)
    assert issued.status_code == 201 and issued.json()["info"]["agency"] == "MHLW"
    clerk_id = issued.json()["info"]["id"]
    for body in ({"role": "agency-admin"}, {"role": "clerk", "agency": "MOJ"}, {"role": "admin"}):
        refused = await client.post("/api/v1/tokens", json=body, headers=head)
        assert refused.status_code == 403, body
    await tokens.header("clerk", "MOJ")
    listed = (await client.get("/api/v1/tokens", params={"agency": "MOJ"}, headers=head)).json()["items"]
    assert {t["agency"] for t in listed} == {"MHLW"} and clerk_id in {t["id"] for t in listed}
    assert (await client.delete(f"/api/v1/tokens/{clerk_id}", headers=other)).status_code == 404
    assert (await client.delete(f"/api/v1/tokens/{clerk_id}", headers=head)).status_code == 204
    clerk = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert (await client.get("/api/v1/queue", headers=clerk)).status_code == 401
