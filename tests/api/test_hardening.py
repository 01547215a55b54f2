"""Parameters out of range or with NUL, conflicts, role before body, security headers, presented tokens."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.conftest import FORM
from tests.conftest import Tokens

BASE = "https://shinsei.example/problems/"
HUGE = 1_099_511_627_776  # beyond int4


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.pop("instance").startswith("urn:uuid:")
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/api/v1/forms/t-overtime/versions/{HUGE}/nonces"),
        ("GET", f"/api/v1/forms/t-overtime/versions/{HUGE}"),
        ("GET", f"/api/v1/forms/t-overtime/versions/{HUGE}/json-schema"),
        ("GET", f"/api/v1/forms/t-overtime/versions/1/diff/{HUGE}"),
        ("GET", f"/api/v1/forms/t-overtime/versions/{HUGE}/diff/1"),
        ("POST", f"/api/v1/forms/t-overtime/versions/{HUGE}/validate"),
        ("POST", f"/api/v1/forms/t-overtime/versions/{HUGE}/retire"),
        ("GET", "/api/v1/forms/t-overtime/versions/0"),
        ("GET", "/api/v1/forms/t-overtime/versions/-1"),
    ],
)
async def test_version_numbers_beyond_int4_are_400(
    client: AsyncTestClient[Litestar], admin: dict[str, str], method: str, path: str
) -> None:
    response = await client.request(method, path, headers=admin, json={})
    body = problem(response, 400)
    assert body["type"] == BASE + "invalid-parameter"
    assert [e["code"] for e in body["errors"]] and all(e["parameter"] in ("number", "a", "b") for e in body["errors"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/procedures?q=a%00b",
        "/api/v1/procedures?agency=M%00J",
        "/api/v1/procedures/moj%00-inkan",
        "/api/v1/forms/nta%00kaigyo",
        "/api/v1/forms?agency=%00",
        "/api/v1/forms?procedure=x%00",
        "/api/v1/queue?form=a%00b",
        "/api/v1/agencies/MO%00J",
    ],
)
async def test_nul_in_parameters_is_400(client: AsyncTestClient[Litestar], tokens: Tokens, path: str) -> None:
    clerk = await tokens.header("clerk", "MHLW")
    body = problem(await client.get(path, headers=clerk if "queue" in path else {}), 400)
    assert body["type"] == BASE + "invalid-parameter"
    assert body["detail"].startswith("Parameters may not contain a NUL character: ")
    assert {e["code"] for e in body["errors"]} == {"nul"}


async def test_nul_in_a_json_body_is_400(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    admin = await tokens.header("admin")
    body = {"role": "clerk", "agency": "MHLW", "name": "a\u0000b"}
    assert problem(await client.post("/api/v1/tokens", json=body, headers=admin), 400)["errors"] == [
        {"code": "nul", "detail": "contains \\u0000", "pointer": ""}
    ]


async def test_deleting_a_procedure_with_forms_is_409(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    response = await client.delete(f"/api/v1/procedures/{FORM['procedure']}", headers=admin)
    assert problem(response, 409) == {
        "type": BASE + "conflict",
        "title": "The request conflicts with the current state.",
        "status": 409,
        "detail": "Procedure mhlw-36-agreement has forms; it cannot be removed while they refer to it.",
    }
    assert await conn.fetchval("SELECT count(*) FROM procedure WHERE id = $1", FORM["procedure"]) == 1


@pytest.mark.parametrize(
    ("content", "content_type", "status", "slug"),
    [
        (b"\x30\x82\xff\xff garbage", "application/pkix-crl", 422, "validation"),
        (b"\x30\x03\x02\x01\x00", "application/pkix-crl", 422, "validation"),
        (b'{"crl": "-----BEGIN X509 CRL-----\\nAAAA\\n-----END X509 CRL-----"}', "application/json", 422, "validation"),
        (b'{"crl": 5}', "application/json", 422, "validation"),
        (b'{"crl": ', "application/json", 400, "malformed-body"),
    ],
)
async def test_malformed_crls_are_problems_not_500(
    client: AsyncTestClient[Litestar], tokens: Tokens, content: bytes, content_type: str, status: int, slug: str
) -> None:
    admin = await tokens.header("admin")
    response = await client.post("/api/v1/trust/crls", content=content, headers=admin | {"Content-Type": content_type})
    assert problem(response, status)["type"] == BASE + slug


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", "/api/v1/trust/crls", "application/pkix-crl"),
        ("POST", "/api/v1/trust/crls", "application/json"),
        ("POST", "/api/v1/trust/anchors", "application/json"),
        ("POST", "/api/v1/trust/ocsp", "application/json"),
        ("POST", "/api/v1/procedures", "application/json"),
        ("PUT", "/api/v1/procedures/moj-inkan-todoke", "application/json"),
        ("POST", "/api/v1/forms", "application/yaml"),
        ("PUT", "/api/v1/forms/t-overtime/draft", "application/json"),
        ("PUT", "/api/v1/agencies/MOJ", "application/json"),
        ("POST", "/api/v1/tokens", "application/json"),
    ],
)
async def test_a_clerk_is_refused_before_the_body_is_looked_at(
    client: AsyncTestClient[Litestar], tokens: Tokens, method: str, path: str, content_type: str
) -> None:
    clerk = await tokens.header("clerk", "MHLW")
    garbage = b"[" * 10_000 + b"\xff not even text"
    response = await client.request(method, path, content=garbage, headers=clerk | {"Content-Type": content_type})
    assert problem(response, 403)["type"] == BASE + "forbidden"


async def test_security_headers(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    for path in ("/api/v1/procedures", "/api/v1/nowhere", "/healthz", "/schema/openapi.json"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert "no-store" not in response.headers.get("cache-control", ""), path
    clerk = await tokens.header("clerk", "MHLW")
    for path in ("/api/v1/queue", "/api/v1/submissions/00000000-0000-0000-0000-000000000000", "/api/v1/tokens"):
        response = await client.get(path, headers=clerk)
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["x-content-type-options"] == "nosniff", path
    docs = await client.get("/schema")
    assert docs.headers["content-type"].startswith("text/html")
    policy = docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net" in policy
    assert docs.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/agencies",
        "/api/v1/agencies/MHLW",
        "/api/v1/procedures",
        "/api/v1/procedures/moj-inkan-todoke",
        "/api/v1/forms",
        "/api/v1/forms/t-overtime",
        "/api/v1/forms/t-overtime/versions/1/json-schema",
        "/api/v1/receipts/certificate",
    ],
)
async def test_a_presented_invalid_or_revoked_token_is_401_on_public_routes(
    client: AsyncTestClient[Litestar], admin: dict[str, str], tokens: Tokens, path: str
) -> None:
    assert (await client.get(path)).status_code == 200
    clerk = await tokens.header("clerk", "MHLW")
    assert (await client.get(path, headers=clerk)).status_code == 200
    listed = (await client.get("/api/v1/tokens?limit=200", headers=admin)).json()["items"]
    token_id = next(t["id"] for t in listed if t["role"] == "clerk")
    assert (await client.delete(f"/api/v1/tokens/{token_id}", headers=admin)).status_code == 204
    for headers in (clerk, {"Authorization": "Bearer shs_unknown"}, {"Authorization": "Basic eDp5"}):
        response = await client.get(path, headers=headers)
        assert problem(response, 401)["type"] == BASE + "unauthenticated"
        assert response.headers["www-authenticate"] == 'Bearer realm="shinsei"'
    assert (await client.get("/healthz", headers=clerk)).status_code == 200  # liveness never asks the database
