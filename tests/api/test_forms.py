"""Forms through HTTP: lifecycle, YAML bodies, validation, scoping, and the database's own guard."""

from __future__ import annotations

import copy
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Tokens
from tests.forms.helpers import field

pytestmark = pytest.mark.usefixtures("catalog")

SCHEMA: dict[str, Any] = {
    "id": "mlit-takken",
    "procedure": "mlit-takken-menkyo",
    "title": {"ja": "宅地建物取引業免許申請書"},
    "sections": [
        {
            "id": "main",
            "title": {"ja": "申請者"},
            "fields": [
                field("trade_name", "text", required=True, max_length=20),
                field("postal_code", "postal_code", required=True),
                field("offices", "integer", min=1),
            ],
        }
    ],
}
YAML = """\
id: mlit-takken
procedure: mlit-takken-menkyo
title: {ja: 宅地建物取引業免許申請書}
sections:
  - id: main
    title: {ja: 申請者}
    fields:
      - {id: trade_name, type: text, label: {ja: trade_name}, required: true, max_length: 20}
      - {id: postal_code, type: postal_code, label: {ja: postal_code}, required: true}
      - {id: offices, type: integer, label: {ja: offices}, min: 1}
"""


def document(version: int, **answers: Any) -> bytes:
    return msgspec.json.encode({"form_id": "mlit-takken", "form_version": version, "answers": answers})


async def test_lifecycle(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mlit = await tokens.header("agency-admin", "MLIT")
    created = await client.post("/api/v1/forms", content=YAML, headers=mlit | {"Content-Type": "application/yaml"})
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["status"], created.json()["sha256"]) == (1, "draft", None)

    # A draft is not public.
    assert (await client.get("/api/v1/forms/mlit-takken")).status_code == 404
    assert (await client.get("/api/v1/forms/mlit-takken/versions/1")).status_code == 404
    assert (await client.get("/api/v1/forms/mlit-takken/versions/1", headers=mlit)).status_code == 200

    # Editing the draft keeps version 1.
    edited = copy.deepcopy(SCHEMA)
    edited["sections"][0]["fields"][0]["max_length"] = 30
    saved = await client.put("/api/v1/forms/mlit-takken/draft", json=edited, headers=mlit)
    assert (saved.status_code, saved.json()["version"]) == (200, 1)

    published = await client.post("/api/v1/forms/mlit-takken/draft/publish", headers=mlit)
    assert published.status_code == 200, published.text
    v1 = published.json()
    assert v1["status"] == "published" and len(v1["sha256"]) == 64

    again = await client.post("/api/v1/forms/mlit-takken/draft/publish", headers=mlit)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/form-version-state")

    # Editing after publishing starts version 2; version 1 is untouched.
    saved = await client.put(
        "/api/v1/forms/mlit-takken/draft", content=YAML, headers=mlit | {"Content-Type": "application/yaml"}
    )
    assert (saved.status_code, saved.json()["version"], saved.json()["status"]) == (201, 2, "draft")
    assert (await client.get("/api/v1/forms/mlit-takken/versions/1")).json()["sha256"] == v1["sha256"]
    v2 = (await client.post("/api/v1/forms/mlit-takken/draft/publish", headers=mlit)).json()
    assert v2["version"] == 2 and v2["sha256"] != v1["sha256"]

    public = (await client.get("/api/v1/forms/mlit-takken")).json()
    assert public["latest"]["version"] == 2
    assert [(v["version"], v["status"]) for v in public["versions"]] == [(1, "published"), (2, "published")]

    diff = (await client.get("/api/v1/forms/mlit-takken/versions/1/diff/2")).json()
    assert diff["diff"]["changed"] == [{"field": "trade_name", "changes": {"max_length": [30, 20]}}]

    retired = await client.post("/api/v1/forms/mlit-takken/versions/1/retire", headers=mlit)
    assert retired.json()["status"] == "retired"
    assert (await client.post("/api/v1/forms/mlit-takken/versions/1/retire", headers=mlit)).status_code == 200

    valid = await client.post(
        "/api/v1/forms/mlit-takken/versions/1/validate", content=document(1, trade_name="x", postal_code="100-0001")
    )
    assert valid.json() == {
        "valid": True,
        "form_id": "mlit-takken",
        "form_version": 1,
        "form_version_status": "retired",
        "accepting_submissions": False,
        "notice": "Version 1 of mlit-takken is retired: it accepts no new submissions. Use version 2.",
    }
    listed = (await client.get("/api/v1/forms", params={"agency": "MLIT"})).json()
    assert [(f["id"], f["latest_version"]) for f in listed["items"]] == [("mlit-takken", 2)]


async def test_validate_reports_every_error(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mlit = await tokens.header("agency-admin", "MLIT")
    await client.post("/api/v1/forms", json=SCHEMA, headers=mlit)
    await client.post("/api/v1/forms/mlit-takken/draft/publish", headers=mlit)
    response = await client.post(
        "/api/v1/forms/mlit-takken/versions/1/validate", content=document(1, postal_code="1000", offices=0, fax="x")
    )
    assert response.status_code == 422
    body = response.json()
    body.pop("instance")
    assert body == {
        "type": "https://shinsei.example/problems/form-invalid",
        "title": "The form answers are not valid.",
        "status": 422,
        "detail": "4 fields need attention.",
        "errors": [
            {"code": "unknown_field", "detail": "is not a field of this form", "pointer": "/answers/fax"},
            {"code": "required", "detail": "is required", "pointer": "/answers/trade_name"},
            {
                "code": "pattern",
                "detail": "must be 7 digits, hyphen optional (100-0001)",
                "pointer": "/answers/postal_code",
            },
            {"code": "min", "detail": "Expected `int` >= 1", "pointer": "/answers/offices"},
        ],
        "form_version_status": "published",
        "accepting_submissions": True,
        "notice": None,
    }
    schema = await client.get("/api/v1/forms/mlit-takken/versions/1/json-schema")
    assert schema.headers["content-type"] == "application/schema+json"
    assert schema.json()["properties"]["answers"]["required"] == ["trade_name", "postal_code"]


async def test_draft_validation_says_so(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mlit = await tokens.header("agency-admin", "MLIT")
    await client.post("/api/v1/forms", json=SCHEMA, headers=mlit)
    response = await client.post(
        "/api/v1/forms/mlit-takken/versions/1/validate",
        content=document(1, trade_name="x", postal_code="1000001"),
        headers=mlit,
    )
    assert response.json()["form_version_status"] == "draft"
    assert response.json()["accepting_submissions"] is False
    assert "draft" in response.json()["notice"]


async def test_schema_problems(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mlit = await tokens.header("agency-admin", "MLIT")
    bad = copy.deepcopy(SCHEMA)
    bad["sections"][0]["fields"].append(field("trade_name", "integer", min=5, max=1))
    bad["sections"][0]["fields"].append(field("z", "colour"))
    response = await client.post("/api/v1/forms", json=bad, headers=mlit)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/schema-invalid")
    assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [
        ("/sections/0/fields/4/type", "unknown_type")
    ]
    bad["sections"][0]["fields"].pop()
    response = await client.post("/api/v1/forms", json=bad, headers=mlit)
    assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [
        ("/sections/0/fields/3/id", "duplicate"),
        ("/sections/0/fields/3/min", "min_max"),
    ]
    unknown = copy.deepcopy(SCHEMA) | {"procedure": "no-such-procedure"}
    response = await client.post("/api/v1/forms", json=unknown, headers=mlit)
    assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [("/procedure", "unknown_procedure")]
    alias = "id: a\nprocedure: b\ntitle: &t {ja: x}\ndescription: *t\nsections: []\n"
    response = await client.post("/api/v1/forms", content=alias, headers=mlit | {"Content-Type": "application/yaml"})
    assert response.json()["errors"][0]["code"] == "yaml_alias"
    response = await client.post(
        "/api/v1/forms", content=b"<form/>", headers=mlit | {"Content-Type": "application/xml"}
    )
    assert response.status_code == 415
    assert (await client.post("/api/v1/forms", json=SCHEMA)).status_code == 401


async def test_agency_scoping(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mlit = await tokens.header("agency-admin", "MLIT")
    mhlw = await tokens.header("agency-admin", "MHLW")
    clerk = await tokens.header("clerk", "MLIT")
    assert (await client.post("/api/v1/forms", json=SCHEMA, headers=mlit)).status_code == 201
    # Another agency cannot see the draft, change it, publish it or retire it: 404 throughout.
    assert (await client.get("/api/v1/forms/mlit-takken/versions/1", headers=mhlw)).status_code == 404
    assert (await client.put("/api/v1/forms/mlit-takken/draft", json=SCHEMA, headers=mhlw)).status_code == 404
    assert (await client.post("/api/v1/forms/mlit-takken/draft/publish", headers=mhlw)).status_code == 404
    assert (await client.post("/api/v1/forms/mlit-takken/versions/1/retire", headers=mhlw)).status_code == 404
    # Nor create a form for another agency's procedure; a clerk cannot publish.
    assert (await client.post("/api/v1/forms", json=SCHEMA | {"id": "other"}, headers=mhlw)).status_code == 403
    assert (await client.post("/api/v1/forms/mlit-takken/draft/publish", headers=clerk)).status_code == 403
    # The owning agency's clerk may read the draft.
    assert (await client.get("/api/v1/forms/mlit-takken/versions/1", headers=clerk)).status_code == 200
    assert (await client.post("/api/v1/forms", json=SCHEMA, headers=mlit)).status_code == 409


async def test_database_refuses_to_change_a_published_version(
    client: AsyncTestClient[Litestar], tokens: Tokens, conn: asyncpg.Connection
) -> None:
    mlit = await tokens.header("agency-admin", "MLIT")
    await client.post("/api/v1/forms", json=SCHEMA, headers=mlit)
    await client.post("/api/v1/forms/mlit-takken/draft/publish", headers=mlit)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="immutable"):
        await conn.execute("UPDATE form_version SET schema = '{}' WHERE form_id = 'mlit-takken'")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="cannot be deleted"):
        await conn.execute("DELETE FROM form_version WHERE form_id = 'mlit-takken'")
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            "INSERT INTO form_version (form_id, version, status, schema) VALUES ('mlit-takken', 2, 'draft', '{}'),"
            " ('mlit-takken', 3, 'draft', '{}')"
        )
