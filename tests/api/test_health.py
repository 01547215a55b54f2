from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import database_name, drop_database


async def test_healthz_answers_without_database_work(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_is_503_problem_when_the_database_is_gone(
    client: AsyncTestClient[Litestar], server_dsn: str, db: str
) -> None:
    await drop_database(server_dsn, database_name(db))
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    body.pop("instance")
    assert body == {
        "type": "https://shinsei.example/problems/service-unavailable",
        "title": "The service is temporarily unavailable.",
        "status": 503,
        "detail": "The database is not reachable.",
    }


async def test_request_id_is_echoed_or_generated(client: AsyncTestClient[Litestar]) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32
    missing = await client.get("/nope")
    assert len(missing.headers["x-request-id"]) == 32


async def test_openapi_document_is_served(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/procedures" in document["paths"]
    ui = await client.get("/schema")
    assert ui.status_code == 200
    assert "swagger" in ui.text.lower()
