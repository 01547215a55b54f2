"""The OpenAPI document describes the errors a client will get, and the small HTTP details around them."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Tokens

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


async def operations(client: AsyncTestClient[Litestar]) -> list[tuple[str, str, dict[str, Any]]]:
    document = (await client.get("/schema/openapi.json")).json()
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]


async def test_every_operation_documents_its_problems(client: AsyncTestClient[Litestar]) -> None:
    found = await operations(client)
    assert len(found) > 40
    for path, method, operation in found:
        responses = operation["responses"]
        problems = {int(s) for s in responses if int(s) >= 400}
        assert {431, 500} <= problems, (method, path)
        for status in problems:
            assert responses[str(status)]["content"] == PROBLEM, (method, path, status)
        if path not in ("/healthz", "/readyz"):
            assert {400, 401, 404, 503} <= problems, (method, path)
        if method != "get":
            assert {408, 413, 415, 422} <= problems, (method, path)
    by_key = {(m, p): o for p, m, o in found}
    assert {"403"} <= set(by_key[("get", "/api/v1/queue")]["responses"])
    assert {"412", "428"} <= set(by_key[("post", "/api/v1/submissions/{submission_id}/decision")]["responses"])
    pdf = by_key[("get", "/api/v1/submissions/{submission_id}/receipt.pdf")]["responses"]["200"]
    assert list(pdf["content"]) == ["application/pdf"]
    assert "204" in by_key[("post", "/api/v1/queue/claim")]["responses"]


async def test_problem_schema_is_the_body_we_send(client: AsyncTestClient[Litestar]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]["Problem"]
    assert set(schema["required"]) == {"type", "title", "status", "detail", "instance"}
    assert "errors" in schema["properties"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/procedures", "GET, OPTIONS, POST"),
        ("/api/v1/procedures/moj-inkan-todoke", "DELETE, GET, OPTIONS, PUT"),
        ("/api/v1/forms", "GET, OPTIONS, POST"),
        ("/api/v1/tokens", "GET, OPTIONS, POST"),
        ("/api/v1/trust/crls", "GET, OPTIONS, POST"),
        ("/api/v1/agencies/MOJ", "GET, OPTIONS, PUT"),
    ],
)
async def test_allow_lists_every_method(
    client: AsyncTestClient[Litestar], tokens: Tokens, path: str, allowed: str
) -> None:
    admin = await tokens.header("admin")
    response = await client.options(path, headers=admin)
    assert response.headers["allow"] == allowed
    refused = await client.patch(path, headers=admin)
    assert refused.status_code == 405
    assert set(refused.headers["allow"].split(", ")) == set(allowed.split(", "))


async def test_an_empty_cursor_is_the_first_page(client: AsyncTestClient[Litestar], catalog: None) -> None:
    first = (await client.get("/api/v1/procedures?limit=3")).json()
    assert (await client.get("/api/v1/procedures?limit=3&cursor=")).json() == first
    assert (await client.get("/api/v1/forms?cursor=")).status_code == 200
