"""The applicant's own views of a filing on someone's behalf, and a card sign-in opening what it lists."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.test_applicant_session import bearer, signed_in, submit_as
from tests.api.test_proxy_filing import file, file_as_professional, mandate, statement, trust_sharoushi

Client = AsyncTestClient[Litestar]
PROBLEMS = "https://shinsei.example/problems/"


def access(body: dict[str, Any]) -> dict[str, str]:
    return bearer(body["access_token"])


async def test_the_status_view_says_who_filed_for_whom(client: Client, admin: dict[str, str]) -> None:
    by_mandate = (await file(client, mandate())).json()
    view = (await client.get(by_mandate["links"]["self"], headers=access(by_mandate))).json()
    assert view["proxy"] == {
        "kind": "mandate",
        "summary": "filed by 鈴木 一郎 on behalf of 山田 太郎 (mandate, 委任状)",
        "filed_by": "鈴木 一郎",
        "filed_by_profession": None,
        "on_behalf_of": "山田 太郎",
    }
    await trust_sharoushi(client, admin)
    by_statement = (await file_as_professional(client, statement())).json()
    view = (await client.get(by_statement["links"]["self"], headers=access(by_statement))).json()
    assert view["proxy"] == {
        "kind": "profession",
        "summary": "filed by Takahashi Ichiro (社会保険労務士) on behalf of 戸田工業株式会社 (提出代行)",
        "filed_by": "Takahashi Ichiro",
        "filed_by_profession": "sharoushi",
        "on_behalf_of": "戸田工業株式会社",
    }
    own = (await file(client, None, agent="applicant")).json()
    assert (await client.get(own["links"]["self"], headers=access(own))).json()["proxy"] is None


async def test_a_card_sign_in_lists_and_opens_the_holders_applications(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    """山田 signs in with the card: their own filing and the one 鈴木 made with their mandate, each openable."""
    own = await submit_as(client, "applicant")
    on_their_behalf = (await file(client, mandate())).json()
    theirs = await submit_as(client, "second-applicant")
    session = (await signed_in(client, link="applicant")).json()["session_token"]

    listed = (await client.get("/api/v1/applicant/submissions", headers=bearer(session))).json()["items"]
    by_id = {item["submission_id"]: item for item in listed}
    assert set(by_id) == {own, on_their_behalf["submission_id"]}
    assert (by_id[own]["filed_by"], by_id[own]["on_behalf_of"], by_id[own]["filed_by_profession"]) == (
        None,
        None,
        None,
    )
    proxy_item = by_id[on_their_behalf["submission_id"]]
    assert (proxy_item["filed_by"], proxy_item["on_behalf_of"]) == ("鈴木 一郎", "山田 太郎")

    for submission_id in by_id:
        opened = await client.get(f"/api/v1/submissions/{submission_id}", headers=bearer(session))
        assert opened.status_code == 200, opened.text
        assert opened.json()["submission_id"] == submission_id
        assert "answers" not in opened.json()  # the applicant's view, not the clerk's
    assert (
        await client.get(f"/api/v1/submissions/{on_their_behalf['submission_id']}", headers=bearer(session))
    ).json()["proxy"]["filed_by"] == "鈴木 一郎"

    # Not the holder's: absent, as for a wrong access token.
    other = await client.get(f"/api/v1/submissions/{theirs}", headers=bearer(session))
    assert (other.status_code, other.json()["type"]) == (404, PROBLEMS + "not-found")
    # A session opens, it does not act: withdrawal still needs the application's access token.
    refused = await client.post(f"/api/v1/submissions/{own}/nonces", headers=bearer(session))
    assert refused.status_code == 404
    # Signed out, or expired: the session opens nothing.
    assert (await client.delete("/api/v1/applicant/session", headers=bearer(session))).status_code == 204
    gone = await client.get(f"/api/v1/submissions/{own}", headers=bearer(session))
    assert (gone.status_code, gone.json()["type"]) == (401, PROBLEMS + "unauthenticated")
