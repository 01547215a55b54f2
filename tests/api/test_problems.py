"""Every error is an RFC 9457 problem; the bodies are pinned exactly (bar the random instance)."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Tokens

BASE = "https://shinsei.example/problems/"
INSTANCE = re.compile(r"^urn:uuid:[0-9a-f-]{36}$")


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The body, checked for status, media type and instance, with the instance removed."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert INSTANCE.match(body.pop("instance"))
    return body


async def test_400_malformed_json(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    headers = await tokens.header("admin")
    response = await client.post("/api/v1/procedures", content=b'{"id": ', headers=headers)
    assert problem(response, 400) == {
        "type": BASE + "malformed-body",
        "title": "The request body could not be parsed.",
        "status": 400,
        "detail": "The body is not valid JSON: input data was truncated.",
    }


async def test_400_invalid_query_parameters_are_all_named(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/v1/procedures?limit=0&requires=fax")
    body = problem(response, 400)
    assert body["type"] == BASE + "invalid-parameter"
    assert body["title"] == "A request parameter is not valid."
    assert {e["parameter"] for e in body["errors"]} <= {"limit", "requires"}
    assert body["errors"][0]["code"] in {"min", "choice"}


async def test_400_bad_cursor(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/v1/procedures?cursor=not-ours")
    assert problem(response, 400) == {
        "type": BASE + "invalid-parameter",
        "title": "A request parameter is not valid.",
        "status": 400,
        "detail": "The cursor is not one this server issued; start again without it.",
        "errors": [{"code": "invalid", "detail": "is not a valid cursor", "parameter": "cursor"}],
    }


async def test_401_without_token(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/api/v1/procedures", json={"id": "x"})
    assert response.headers["www-authenticate"] == 'Bearer realm="shinsei"'
    assert problem(response, 401) == {
        "type": BASE + "unauthenticated",
        "title": "Authentication is required.",
        "status": 401,
        "detail": "This endpoint requires a bearer token.",
    }


async def test_401_unknown_token_and_wrong_scheme(client: AsyncTestClient[Litestar]) -> None:
    unknown = await client.get("/api/v1/tokens", headers={"Authorization": "Bearer shs_nope"})
    assert problem(unknown, 401)["detail"] == "The bearer token is unknown or has been revoked."
    basic = await client.get("/api/v1/tokens", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert problem(basic, 401)["detail"] == "The Authorization header must be 'Bearer <token>'."


async def test_403_wrong_role(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    response = await client.get("/api/v1/tokens", headers=await tokens.header("clerk", "MHLW"))
    assert problem(response, 403) == {
        "type": BASE + "forbidden",
        "title": "You are not allowed to do this.",
        "status": 403,
        "detail": "This endpoint is for: admin, agency-admin; your token's role is clerk.",
    }


async def test_404_unknown_route_and_object(client: AsyncTestClient[Litestar], catalog: None) -> None:
    assert problem(await client.get("/api/v1/nothing-here"), 404) == {
        "type": BASE + "not-found",
        "title": "The resource was not found.",
        "status": 404,
        "detail": "No resource at /api/v1/nothing-here.",
    }
    assert problem(await client.get("/api/v1/procedures/no-such-procedure"), 404) == {
        "type": BASE + "not-found",
        "title": "The resource was not found.",
        "status": 404,
        "detail": "There is no procedure no-such-procedure.",
    }


async def test_405_wrong_method(client: AsyncTestClient[Litestar]) -> None:
    response = await client.patch("/api/v1/procedures")
    assert "GET" in response.headers["allow"]
    assert problem(response, 405) == {
        "type": BASE + "method-not-allowed",
        "title": "The method is not allowed on this resource.",
        "status": 405,
        "detail": "PATCH is not allowed on /api/v1/procedures.",
    }


async def test_413_body_over_the_limit(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    headers = await tokens.header("admin")
    oversized = b'{"id": "' + b"a" * 1_100_000 + b'"}'
    response = await client.post("/api/v1/procedures", content=oversized, headers=headers)
    assert problem(response, 413) == {
        "type": BASE + "too-large",
        "title": "The request body is too large.",
        "status": 413,
        "detail": "The request body exceeds the limit of 1048576 bytes.",
    }


async def test_422_lists_every_bad_field(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    headers = await tokens.header("admin")
    body = {
        "id": "Bad Slug",
        "agency": "MHLW",
        "name_ja": "",
        "legal_basis": "労働基準法",
        "legacy": {"paper": "yes", "seal": "gold", "in_person": False},
        "reform": {"status": "abolished", "effective": "2021-13-01"},
        "colour": "blue",
    }
    response = await client.post("/api/v1/procedures", json=body, headers=headers)
    assert problem(response, 422) == {
        "type": BASE + "validation",
        "title": "The request body is not valid.",
        "status": 422,
        "detail": "7 fields need attention.",
        "errors": [
            {"code": "unknown_field", "detail": "is not a known field", "pointer": "/colour"},
            {"code": "pattern", "detail": "Expected `str` matching regex '^[a-z0-9]+(-[a-z0-9]+)*$'", "pointer": "/id"},
            {"code": "min_length", "detail": "Expected `str` of length >= 1", "pointer": "/name_ja"},
            {"code": "required", "detail": "is required", "pointer": "/name_en"},
            {"code": "type", "detail": "Expected `bool`, got `str`", "pointer": "/legacy/paper"},
            {"code": "choice", "detail": "Invalid enum value 'gold'", "pointer": "/legacy/seal"},
            {"code": "format", "detail": "Invalid RFC3339 encoded date", "pointer": "/reform/effective"},
        ],
    }


async def test_500_hides_internals_and_logs_the_instance(
    client: AsyncTestClient[Litestar], conn: asyncpg.Connection, capsys: Any
) -> None:
    # A real failure: the table the handler reads is gone.
    await conn.execute("DROP TABLE agency CASCADE")
    response = await client.get("/api/v1/agencies")
    assert response.status_code == 500
    body = response.json()
    instance = body.pop("instance")
    assert body == {
        "type": BASE + "internal-error",
        "title": "The server could not complete the request.",
        "status": 500,
        "detail": f"An unexpected error occurred; quote {instance} when reporting it.",
    }
    logged = capsys.readouterr().out
    assert instance in logged
    assert "UndefinedTableError" in logged
    assert 'relation "agency" does not exist' not in logged  # messages are not logged
