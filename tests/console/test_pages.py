"""The console over HTTP (no browser): sessions, CSRF, security headers, escaping, scoping."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.auth import service as auth_service
from service.auth.schemas import TokenIn
from service.console import sessions
from service.console.labels import JST
from tests.api.test_review import submit, submit_dated

Client = AsyncTestClient[Litestar]
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


async def sign_in(client: Client, token: str) -> Any:
    page = await client.get("/console/login")
    assert page.status_code == 200
    csrf = CSRF.search(page.text)
    assert csrf is not None
    return await client.post(
        "/console/login", data={"token": token, "csrf_token": csrf.group(1)}, follow_redirects=False
    )


async def clerk_token(conn: asyncpg.Connection, agency: str = "MHLW", role: str = "clerk") -> str:
    return (await auth_service.issue_token(conn, TokenIn(role=role, agency=agency, name="審査係"))).token  # type: ignore[arg-type]


async def test_sign_in_sets_a_strict_http_only_cookie_and_sessions_end_with_their_token(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    token = await clerk_token(conn)
    response = await sign_in(client, token)
    assert response.status_code == 303 and response.headers["location"] == "/console/queue"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("shinsei_console="))
    assert cookie.split("; ")[1:] == ["HttpOnly", "Max-Age=28800", "Path=/console", "SameSite=strict", "Secure"]
    secret = cookie.split(";")[0].split("=", 1)[1]
    hashes = [r["secret_hash"] for r in await conn.fetch("SELECT secret_hash FROM console_session")]
    assert hashes == [sessions.digest(secret)]  # only its hash is stored
    assert await conn.fetchval("SELECT count(*) FROM console_session WHERE ended_at IS NULL") == 1
    queue = await client.get("/console/queue")
    assert queue.status_code == 200 and "審査キュー" in queue.text and "Review queue" in queue.text
    for name, value in {
        "content-security-policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
    }.items():
        assert queue.headers[name] == value
    assert "unsafe-inline" not in queue.headers["content-security-policy"]
    assert "<script>" not in queue.text and token not in queue.text

    token_id = await conn.fetchval("SELECT token_id FROM console_session")
    await conn.execute("UPDATE api_token SET revoked_at = now() WHERE id = $1", token_id)
    after = await client.get("/console/queue", follow_redirects=False)
    assert (after.status_code, after.headers["location"]) == (303, "/console/login")


async def test_wrong_token_and_a_platform_admin_are_refused(
    client: Client, tokens: Any, conn: asyncpg.Connection
) -> None:
    wrong = await sign_in(client, "shs_nope")
    assert wrong.status_code == 401 and "トークンが不明か、失効しています。" in wrong.text
    admin = (await auth_service.issue_token(conn, TokenIn(role="admin"))).token
    refused = await sign_in(client, admin)
    assert refused.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM console_session") == 0


async def test_posts_without_the_sessions_csrf_token_are_refused(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    submission = await submit(client, conn)
    assert (await sign_in(client, await clerk_token(conn))).status_code == 303
    for body in ({}, {"csrf_token": "0" * 64}):
        refused = await client.post("/console/queue/claim", data=body)
        assert refused.status_code == 403 and "この送信は受け付けられません" in refused.text
    status = await conn.fetchval("SELECT status FROM submission WHERE id = $1", submission["submission_id"])
    assert status == "received"  # nothing happened
    today = dt.datetime.now(JST).date()
    for received, count in ((f"received_from={today}", 1), (f"received_to={today - dt.timedelta(days=1)}", 0)):
        listed = await client.get(f"/console/queue?{received}")
        assert listed.text.count('<tr class="row') == count, received
    bad = await client.get("/console/queue?received_from=yesterday")
    assert bad.status_code == 400 and "received_from" in bad.text
    no_login_csrf = await client.post("/console/login", data={"token": "x"})
    assert no_login_csrf.status_code == 403


async def test_another_agencys_application_is_a_404_page(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    submission = await submit(client, conn)
    assert (await sign_in(client, await clerk_token(conn, "NTA"))).status_code == 303
    response = await client.get(f"/console/applications/{submission['submission_id']}")
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert "見つかりません" in response.text and submission["receipt_number"] not in response.text
    assert (await client.get("/console/nowhere")).status_code == 404


async def test_the_application_page_shows_answers_as_their_field_types_display_them(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    submission = await submit_dated(client, conn, admin)
    assert (await sign_in(client, await clerk_token(conn))).status_code == 303
    page = await client.get(f"/console/applications/{submission['submission_id']}")
    assert page.status_code == 200
    shown = dict(
        re.findall(r'<tr data-pointer="(/answers/[a-z_]+)">.*?<span class="value">(.*?)</span>', page.text, re.S)
    )
    assert {p: shown.get(p) for p in ("/answers/start", "/answers/prefecture", "/answers/shift")} == {
        "/answers/start": "令和8年11月1日 (2026-11-01)",
        "/answers/prefecture": "東京都",
        "/answers/shift": "日勤",
    }


async def test_roles_expiry_language_and_the_schema_page(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    assert (await sign_in(client, await clerk_token(conn))).status_code == 303
    for path in ("/console/forms", "/console/staff", "/console/forms/t-overtime/versions/1/preview"):
        refused = await client.get(path)
        assert refused.status_code == 403 and "権限がありません" in refused.text, path

    english = await client.get("/console/lang/en", params={"next": "/console/queue?status=received"},
                               follow_redirects=False)  # fmt: skip
    assert (english.status_code, english.headers["location"]) == (303, "/console/queue?status=received")
    assert (await client.get("/console/queue")).text.count('<html lang="en">') == 1
    away = await client.get("/console/lang/ja", params={"next": "//evil.example/"}, follow_redirects=False)
    assert away.headers["location"] == "/console/queue"  # never a way out of the console

    await conn.execute(
        "UPDATE console_session SET created_at = now() - interval '9 hours', expires_at = now() - interval '1 hour'"
    )
    expired = await client.get("/console/queue", follow_redirects=False)
    assert (expired.status_code, expired.headers["location"]) == (303, "/console/login")

    schema = await client.get("/schema")
    assert schema.status_code == 200 and "cdn." not in schema.text and "unpkg" not in schema.text
    assert "/console/static/vendor/swagger-ui/swagger-ui-bundle.js" in schema.text
    bundle = await client.get("/console/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 1_000_000


async def test_an_agency_admin_sees_only_its_own_forms(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    assert (await sign_in(client, await clerk_token(conn, "NTA", role="agency-admin"))).status_code == 303
    forms = await client.get("/console/forms")
    assert forms.status_code == 200 and "t-overtime" not in forms.text
    other = await client.get("/console/forms/t-overtime/versions/1/preview")
    assert other.status_code == 404 and "見つかりません" in other.text
    publish = await client.get("/console/forms/t-overtime/publish")
    assert publish.status_code == 404
