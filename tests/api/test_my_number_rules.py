"""個人番号 rules outside submissions: the catalogue's legal basis, publishing, tokens' permission, the sample."""

from __future__ import annotations

import copy
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from forms import default_components
from service.auth import queries as auth_queries
from service.auth import tokens as token_material
from service.cli.files import read_form
from service.publishing import service as publishing
from service.publishing.cache import CompiledForms
from service.settings import SAMPLE_FORMS
from tests.api.test_catalog import NEW
from tests.conftest import Tokens
from tests.forms.helpers import field

pytestmark = pytest.mark.usefixtures("catalog")

BASIS = "番号法第9条第1項"


def schema(procedure: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "mlit-my-number",
        "procedure": procedure,
        "title": {"ja": "試験"},
        "sections": [
            {"id": "a", "title": {"ja": "甲"}, "fields": [field("name", "text")]},
            {"id": "b", "title": {"ja": "乙"}, "fields": list(fields)},
        ],
    }


async def test_the_catalogue_records_the_basis(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mlit = await tokens.header("agency-admin", "MLIT")
    no_basis = copy.deepcopy(NEW) | {"my_number": {"allowed": True}}
    refused = await client.post("/api/v1/procedures", json=no_basis, headers=mlit)
    assert refused.status_code == 422, refused.text
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/my_number"]
    assert "basis is required" in refused.json()["errors"][0]["detail"]
    unknown = copy.deepcopy(NEW) | {"my_number": {"allowed": True, "basis": BASIS, "keep": 1}}
    assert (await client.post("/api/v1/procedures", json=unknown, headers=mlit)).json()["errors"][0]["pointer"] == (
        "/my_number/keep"
    )

    allowed = copy.deepcopy(NEW) | {"my_number": {"allowed": True, "basis": BASIS, "retain_days": 30}}
    created = await client.post("/api/v1/procedures", json=allowed, headers=mlit)
    assert created.status_code == 201, created.text
    assert created.json()["my_number"] == {"allowed": True, "basis": BASIS, "retain_days": 30}
    shown = await client.get(f"/api/v1/procedures/{NEW['id']}")
    assert shown.json()["my_number"] == {"allowed": True, "basis": BASIS, "retain_days": 30}
    sample = await client.get("/api/v1/procedures/mhlw-koyo-hoken-shutoku")
    assert sample.json()["my_number"]["allowed"] is True and "番号法" in sample.json()["my_number"]["basis"]
    assert (await client.get("/api/v1/procedures/mhlw-36-agreement")).json()["my_number"] is None


async def publish_yaml(client: AsyncTestClient[Litestar], headers: dict[str, str], body: dict[str, Any]) -> Any:
    created = await client.post("/api/v1/forms", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return await client.post(f"/api/v1/forms/{body['id']}/draft/publish", headers=headers)


async def test_publishing_needs_the_procedures_basis(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mlit = await tokens.header("agency-admin", "MLIT")
    body = schema(
        "mlit-takken-menkyo",
        field("number", "my_number"),
        field("family", "group", fields=[field("relation", "text"), field("number", "my_number")]),
    )
    refused = await publish_yaml(client, mlit, body)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/schema-invalid")
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [
        ("/sections/1/fields/0/type", "my_number_not_allowed"),
        ("/sections/1/fields/1/fields/1/type", "my_number_not_allowed"),
    ]
    assert "mlit-takken-menkyo declares no legal basis" in problem["errors"][0]["detail"]
    assert (await client.get("/api/v1/forms/mlit-my-number")).status_code == 404  # nothing went live

    # Once the catalogue declares the basis, the same draft publishes.
    procedure = (await client.get("/api/v1/procedures/mlit-takken-menkyo")).json()
    keep = ("id", "agency", "name_ja", "name_en", "legal_basis", "legacy", "reform", "policy_override", "proxy")
    allowed = {k: procedure[k] for k in keep if procedure.get(k) is not None} | {
        "my_number": {"allowed": True, "basis": BASIS}
    }
    assert (await client.put("/api/v1/procedures/mlit-takken-menkyo", json=allowed, headers=mlit)).status_code == 200
    published = await client.post("/api/v1/forms/mlit-my-number/draft/publish", headers=mlit)
    assert published.status_code == 200, published.text
    exported = await client.get("/api/v1/forms/mlit-my-number/versions/1/json-schema")
    assert exported.json()["properties"]["answers"]["properties"]["number"]["writeOnly"] is True

    # allowed: false is the same as no rule.
    allowed["my_number"] = {"allowed": False}
    assert (await client.put("/api/v1/procedures/mlit-takken-menkyo", json=allowed, headers=mlit)).status_code == 200
    assert (await client.put("/api/v1/forms/mlit-my-number/draft", json=body, headers=mlit)).status_code in (200, 201)
    again = await client.post("/api/v1/forms/mlit-my-number/draft/publish", headers=mlit)
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "my_number_not_allowed"


async def test_the_sample_forms_publish(conn: asyncpg.Connection) -> None:
    registry = default_components()
    compiled = CompiledForms(registry)
    sample = read_form(SAMPLE_FORMS / "mhlw-koyo-hoken-shutoku.yaml", registry)
    assert sample.fields()[0].__struct_config__.tag == "my_number"
    async with conn.transaction():
        published = await publishing.publish_schema(conn, sample, compiled)
    assert published is not None and published.version == 1


async def test_tokens_carry_the_permission(
    client: AsyncTestClient[Litestar], tokens: Tokens, conn: asyncpg.Connection
) -> None:
    mhlw = await tokens.header("agency-admin", "MHLW")
    issued = await client.post(
        "/api/v1/tokens", json={"role": "clerk", "name": "担当者", "permissions": ["my_number:read"]}, headers=mhlw
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["info"]["permissions"] == ["my_number:read"]
    principal = await auth_queries.principal_for(conn, token_material.digest(issued.json()["token"]))
    assert principal is not None and principal.may("my_number:read")
    plain = await client.post("/api/v1/tokens", json={"role": "clerk"}, headers=mhlw)
    assert plain.json()["info"]["permissions"] == []
    unknown = await client.post("/api/v1/tokens", json={"role": "clerk", "permissions": ["all"]}, headers=mhlw)
    assert unknown.status_code in (400, 422)
    assert unknown.json()["errors"][0]["pointer"] == "/permissions/0"
    listed = await client.get("/api/v1/tokens", headers=mhlw)
    assert sorted(t["permissions"] for t in listed.json()["items"]) == [[], [], ["my_number:read"]]
    granted = await conn.fetch("SELECT details FROM audit_event WHERE action = 'token.issued' ORDER BY seq")
    assert [r["details"]["permissions"] for r in granted] == [["my_number:read"], []]  # who granted it, on record
