"""``GET /metrics`` scraped after real submissions: the families an operator alerts on, and no personal data."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.settings import Settings
from tests import pki
from tests.api.test_submissions import add_ocsp, document, new_nonce, parts
from tests.conftest import Tokens

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, metrics="admin")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


async def test_scrape_after_a_submission(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens
) -> None:
    nonce = await new_nonce(client)
    doc = document(nonce)
    await add_ocsp(conn, "applicant")
    signature = await asyncio.to_thread(pki.sign_pyhanko, "applicant", doc)
    accepted = await client.post("/api/v1/submissions", files=parts(doc, [signature]))
    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    view = await client.get(body["links"]["self"], headers={"Authorization": f"Bearer {body['access_token']}"})
    assert view.status_code == 200
    # Another signature over a document whose form does not exist: refused before the procedure is known.
    unknown = document(await new_nonce(client)).replace(b'"t-overtime"', b'"no-such-form"')
    refused = await client.post("/api/v1/submissions", files=parts(unknown, [signature]))
    assert refused.status_code == 422

    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers=await tokens.header("clerk", "MHLW"))).status_code == 403
    response = await client.get("/metrics", headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    scraped = samples(response.text)

    assert value(scraped, "shinsei_submissions_total", procedure="mhlw-36-agreement", outcome="accepted") == 1
    assert value(scraped, "shinsei_submissions_total", procedure="unknown", outcome="form-invalid") == 1
    assert value(scraped, "shinsei_verifications_total", indication="TOTAL_PASSED", sub_indication="") == 1
    assert value(scraped, "shinsei_verifier_cache_lookups_total", result="miss") == 1
    route = "/api/v1/submissions"
    assert value(scraped, "shinsei_http_requests_total", method="POST", route=route, status="201") == 1
    assert value(scraped, "shinsei_http_requests_total", method="POST", route=route, status="422") == 1
    assert value(scraped, "shinsei_http_request_duration_seconds_count", method="POST", route=route) == 2
    assert value(scraped, "shinsei_http_requests_total", method="GET", route="/metrics", status="401") == 1
    view_route = "/api/v1/submissions/{submission_id}"
    assert value(scraped, "shinsei_http_requests_total", method="GET", route=view_route, status="200") == 1
    assert value(scraped, "shinsei_audit_append_duration_seconds_count") >= 1
    assert value(scraped, "shinsei_queue_depth", agency="MHLW", status="received") == 1
    assert value(scraped, "shinsei_signatures_pending") == 0
    anchor = {
        k: v for (name, labels), v in scraped.items() if name == "shinsei_crl_next_update_seconds" for k in [labels]
    }
    [(labels, due)] = anchor.items()
    assert dict(labels)["class"] == "jpki" and due > 0
    assert value(scraped, "shinsei_db_pool_connections", state="in_use") >= 1  # this scrape's own connection
    assert value(scraped, "shinsei_db_pool_max_connections") == 4
    # Every family is documented for operators, and everything documented exists.
    documented = set(re.findall(r"`(shinsei_[a-z_]+)`", (ROOT / "docs" / "operations.md").read_text()))
    exposed = {
        f.name + ("_total" if f.type == "counter" else "") for f in text_string_to_metric_families(response.text)
    }
    assert {name for name in exposed if name.startswith("shinsei_")} == documented
    # No personal data, no ids: the applicant's name, the submission id and its token appear nowhere.
    for secret in ("山田", body["submission_id"], body["access_token"], body["receipt_number"]):
        assert secret not in response.text


async def test_off_by_default(settings: Settings) -> None:
    async with AsyncTestClient(create_app(msgspec.structs.replace(settings, metrics="off"))) as client:
        assert (await client.get("/metrics")).status_code == 404
    async with AsyncTestClient(create_app(msgspec.structs.replace(settings, metrics="open"))) as client:
        assert (await client.get("/metrics")).status_code == 200
