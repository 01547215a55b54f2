"""The procedure catalogue: filters, search, pagination and agency scoping."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Tokens

pytestmark = pytest.mark.usefixtures("catalog")

NEW: dict[str, Any] = {
    "id": "mlit-test-procedure",
    "agency": "MLIT",
    "name_ja": "試験用手続",
    "name_en": "Test procedure",
    "legal_basis": "試験法第1条",
    "legacy": {"paper": True, "seal": "registered", "in_person": False},
    "reform": {"status": "pending", "effective": None, "note": ""},
}


async def all_pages(client: AsyncTestClient[Litestar], params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await client.get("/api/v1/procedures", params=params | ({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


async def test_requires_seal_returns_only_sealed_procedures(client: AsyncTestClient[Litestar]) -> None:
    items = await all_pages(client, {"requires": "seal"})
    everything = await all_pages(client, {})
    assert items
    assert all(p["legacy"]["seal"] != "none" for p in items)
    assert {p["id"] for p in everything if p["legacy"]["seal"] != "none"} == {p["id"] for p in items}
    assert "toda-juminhyo-kofu" not in {p["id"] for p in items}  # no seal, but in person


async def test_requires_combines_with_and(client: AsyncTestClient[Litestar]) -> None:
    items = await all_pages(client, {"requires": ["seal", "in_person"]})
    assert {p["id"] for p in items} == {
        "mlit-kensetsugyo-kyoka",
        "nta-nozei-shomei",
        "moj-teikan-ninsho",
        "toda-jido-teate",
    }


async def test_agency_filter(client: AsyncTestClient[Litestar]) -> None:
    items = await all_pages(client, {"agency": "CITY-TODA"})
    assert {p["agency"] for p in items} == {"CITY-TODA"}
    assert len(items) == 3


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("印鑑", {"moj-inkan-todoke"}),
        ("36協定", {"mhlw-36-agreement"}),
        ("３６協定", {"mhlw-36-agreement"}),  # full-width digits fold to ASCII (NFKC)
        ("LICENCE", {"mlit-kensetsugyo-kyoka", "mlit-takken-menkyo", "meti-yushutsu-kyoka"}),
        ("licence construction", {"mlit-kensetsugyo-kyoka"}),
        ("100%", set()),  # LIKE wildcards are literal
    ],
)
async def test_search_over_both_names(client: AsyncTestClient[Litestar], q: str, expected: set[str]) -> None:
    assert {p["id"] for p in await all_pages(client, {"q": q})} == expected


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 200])
async def test_pages_have_no_duplicates_or_gaps(client: AsyncTestClient[Litestar], limit: int) -> None:
    everything = (await client.get("/api/v1/procedures", params={"limit": 200})).json()
    assert everything["next_cursor"] is None
    paged = await all_pages(client, {"limit": limit})
    assert [p["id"] for p in paged] == [p["id"] for p in everything["items"]]
    assert len(paged) == 19


async def test_limit_bounds(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/api/v1/procedures", params={"limit": 201})).status_code == 400
    assert len((await client.get("/api/v1/procedures")).json()["items"]) == 19  # default 50


async def test_digital_policy_is_derived(client: AsyncTestClient[Litestar]) -> None:
    registered = (await client.get("/api/v1/procedures/moj-inkan-todoke")).json()
    assert registered["digital_policy"] == {
        "signature": "qualified",
        "identity_proofing": True,
        "source": "derived",
        "reason": None,
    }
    ordinary = (await client.get("/api/v1/procedures/mhlw-36-agreement")).json()
    assert ordinary["digital_policy"]["signature"] == "any-trusted"
    in_person = (await client.get("/api/v1/procedures/toda-juminhyo-kofu")).json()
    assert in_person["digital_policy"]["signature"] == "qualified"


async def test_agency_admin_curates_own_agency(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mlit = await tokens.header("agency-admin", "MLIT")
    created = await client.post("/api/v1/procedures", json=NEW, headers=mlit)
    assert created.status_code == 201, created.text
    assert created.json()["digital_policy"]["signature"] == "qualified"

    again = await client.post("/api/v1/procedures", json=NEW, headers=mlit)
    assert again.status_code == 409

    changed = copy.deepcopy(NEW) | {
        "policy_override": {"signature": "any-trusted", "identity_proofing": False, "reason": "実印要件は廃止予定"}
    }
    replaced = await client.put(f"/api/v1/procedures/{NEW['id']}", json=changed, headers=mlit)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["digital_policy"] == {
        "signature": "any-trusted",
        "identity_proofing": False,
        "source": "override",
        "reason": "実印要件は廃止予定",
    }
    assert replaced.json()["revocation"] is None  # the agency's rule
    strict = changed | {"revocation": "confirmed"}
    replaced = await client.put(f"/api/v1/procedures/{NEW['id']}", json=strict, headers=mlit)
    assert (replaced.status_code, replaced.json()["revocation"]) == (200, "confirmed")
    wrong = await client.put(f"/api/v1/procedures/{NEW['id']}", json=changed | {"revocation": "soon"}, headers=mlit)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["pointer"] == "/revocation"
    assert (await client.delete(f"/api/v1/procedures/{NEW['id']}", headers=mlit)).status_code == 204
    assert (await client.get(f"/api/v1/procedures/{NEW['id']}")).status_code == 404


async def test_other_agencys_procedure_is_404(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    mlit = await tokens.header("agency-admin", "MLIT")
    original = (await client.get("/api/v1/procedures/mhlw-36-agreement")).json()
    body = {k: original[k] for k in ("id", "agency", "name_ja", "name_en", "legal_basis", "legacy", "reform")}
    body["name_en"] = "Hijacked"

    put = await client.put("/api/v1/procedures/mhlw-36-agreement", json=body, headers=mlit)
    assert put.status_code == 404
    assert put.json()["detail"] == "There is no procedure mhlw-36-agreement."
    delete = await client.delete("/api/v1/procedures/mhlw-36-agreement", headers=mlit)
    assert delete.status_code == 404
    assert (await client.get("/api/v1/procedures/mhlw-36-agreement")).json()["name_en"] == original["name_en"]

    # Creating in another agency's name is forbidden; moving one's own procedure there too.
    foreign = copy.deepcopy(NEW) | {"agency": "MHLW"}
    assert (await client.post("/api/v1/procedures", json=foreign, headers=mlit)).status_code == 403


async def test_roles(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    clerk = await tokens.header("clerk", "MLIT")
    assert (await client.post("/api/v1/procedures", json=NEW, headers=clerk)).status_code == 403
    admin = await tokens.header("admin")
    foreign = copy.deepcopy(NEW) | {"agency": "MHLW", "id": "mhlw-by-admin"}
    assert (await client.post("/api/v1/procedures", json=foreign, headers=admin)).status_code == 201
    unknown_agency = copy.deepcopy(NEW) | {"agency": "NOPE"}
    response = await client.post("/api/v1/procedures", json=unknown_agency, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/agency"


async def test_override_needs_a_reason(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    admin = await tokens.header("admin")
    body = copy.deepcopy(NEW) | {"policy_override": {"signature": "qualified", "identity_proofing": True}}
    response = await client.post("/api/v1/procedures", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"code": "required", "detail": "is required", "pointer": "/policy_override/reason"}
    ]


async def test_agencies_list(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    page = (await client.get("/api/v1/agencies")).json()
    assert [a["code"] for a in page["items"]] == ["CITY-TODA", "METI", "MHLW", "MLIT", "MOJ", "NTA"]
    assert page["next_cursor"] is None
    admin = await tokens.header("admin")
    new = {"code": "CITY-WAKO", "name_ja": "和光市", "name_en": "Wako City"}
    assert (await client.put("/api/v1/agencies/CITY-WAKO", json=new, headers=admin)).status_code == 201
    assert (await client.put("/api/v1/agencies/CITY-WAKO", json=new, headers=admin)).status_code == 200
    mlit = await tokens.header("agency-admin", "MLIT")
    assert (await client.put("/api/v1/agencies/CITY-WAKO", json=new, headers=mlit)).status_code == 403
    assert (await client.get("/api/v1/agencies/CITY-WAKO")).json()["name_ja"] == "和光市"
    assert (await client.get("/api/v1/agencies/CITY-WAKO")).json()["revocation"] == "current"
    strict = new | {"revocation": "confirmed"}
    assert (await client.put("/api/v1/agencies/CITY-WAKO", json=strict, headers=admin)).status_code == 200
    assert (await client.get("/api/v1/agencies/CITY-WAKO")).json()["revocation"] == "confirmed"
