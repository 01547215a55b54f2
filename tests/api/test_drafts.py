"""Drafts end to end: save, resume by merge patch, files, upgrade, finalise, sign, submit; purge."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.drafts.service import purge_expired_drafts
from service.settings import Settings
from tests import pki
from tests.api.conftest import FORM, arrange
from tests.api.test_submissions import PDF, add_ocsp
from tests.conftest import Tokens

Client = AsyncTestClient[Litestar]
MERGE = {"Content-Type": "application/merge-patch+json"}
PDF_ANSWER = {
    "filename": "協定書.pdf",
    "media_type": "application/pdf",
    "size": len(PDF),
    "sha256": hashlib.sha256(PDF).hexdigest(),
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_draft(client: Client, answers: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    response = await client.post("/api/v1/drafts", json={"form_id": "t-overtime", "answers": answers})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["draft_id"], bearer(body["draft_token"]), body


async def upload(
    client: Client, draft_id: str, token: dict[str, str], content: bytes = PDF, media_type: str = "application/pdf"
) -> Any:
    files = {"file": ("協定書.pdf", content, media_type)}
    return await client.post(f"/api/v1/drafts/{draft_id}/attachments", files=files, headers=token)


async def test_partial_answers_list_errors_and_todo(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    draft_id, token, body = await new_draft(client, {"workers": 0})
    assert body["draft_token"].startswith("drf_")
    stored = await conn.fetchval("SELECT token_hash FROM draft WHERE id = $1", body["draft_id"])
    assert stored == hashlib.sha256(body["draft_token"].encode()).digest()
    draft = body["draft"]
    assert draft["form_version"] == 1
    assert [(e["pointer"], e["code"]) for e in draft["errors"]] == [("/answers/workers", "min")]
    assert draft["todo"] == ["/answers/applicant_name", "/answers/agreement"]
    assert draft["complete"] is False
    assert body["expires_at"] == draft["expires_at"]
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(days=29, hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)

    assert (await client.get(f"/api/v1/drafts/{draft_id}")).status_code == 401
    wrong = await client.get(f"/api/v1/drafts/{draft_id}", headers=bearer("drf_wrong"))
    assert (wrong.status_code, wrong.json()["type"]) == (404, "https://shinsei.example/problems/not-found")
    assert (await client.get(f"/api/v1/drafts/{draft_id}", headers=token)).json()["todo"] == draft["todo"]


async def test_unknown_form_and_bad_body(client: Client, admin: dict[str, str]) -> None:
    missing = await client.post("/api/v1/drafts", json={"form_id": "no-such-form", "answers": {}})
    assert missing.status_code == 404
    invalid = await client.post("/api/v1/drafts", json={"form_id": "t-overtime", "answers": [], "extra": 1})
    assert invalid.status_code == 422
    assert {e["pointer"] for e in invalid.json()["errors"]} >= {"/answers"}


async def test_merge_patch_changes_and_removes_answers(client: Client, admin: dict[str, str]) -> None:
    draft_id, token, _ = await new_draft(client, {"workers": 0})
    url = f"/api/v1/drafts/{draft_id}"
    wrong_type = await client.patch(url, json={"answers": {"workers": 3}}, headers=token)
    assert wrong_type.status_code == 415
    patched = await client.patch(
        url, content=b'{"answers": {"workers": 12, "applicant_name": "\\u5c71\\u7530 \\u592a\\u90ce"}}',
        headers=token | MERGE,
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["answers"] == {"workers": 12, "applicant_name": "山田 太郎"}
    assert (body["errors"], body["todo"]) == ([], ["/answers/agreement"])
    removed = (await client.patch(url, content=b'{"answers": {"workers": null}}', headers=token | MERGE)).json()
    assert removed["answers"] == {"applicant_name": "山田 太郎"}
    assert removed["todo"] == ["/answers/workers", "/answers/agreement"]

    read_only = await client.patch(url, content=b'{"form_id": "other", "answers": {}}', headers=token | MERGE)
    assert read_only.status_code == 422
    assert read_only.json()["errors"] == [
        {"code": "read_only", "detail": "only answers can be changed", "pointer": "/form_id"}
    ]
    malformed = await client.patch(url, content=b"{", headers=token | MERGE)
    assert (malformed.status_code, malformed.json()["type"]) == (400, "https://shinsei.example/problems/malformed-body")
    assert (await client.patch(url, content=b"{}", headers=MERGE)).status_code == 401


async def test_files_are_kept_by_digest_and_checked(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    draft_id, token, _ = await new_draft(client, {"applicant_name": "山田 太郎", "workers": 3})
    first = await upload(client, draft_id, token)
    assert first.status_code == 201, first.text
    digest = hashlib.sha256(PDF).hexdigest()
    assert first.json() == PDF_ANSWER | {"href": f"/api/v1/drafts/{draft_id}/attachments/{digest}"}
    assert (await upload(client, draft_id, token)).status_code == 201  # the same bytes again: one copy
    assert await conn.fetchval("SELECT count(*) FROM draft_attachment WHERE draft_id = $1", draft_id) == 1

    not_pdf = await upload(client, draft_id, token, b"GIF89a not a pdf")
    assert not_pdf.status_code == 422
    assert not_pdf.json()["errors"] == [
        {"code": "media_type", "detail": "the file is image/gif, not application/pdf", "pointer": "/file"}
    ]
    downloaded = await client.get(f"/api/v1/drafts/{draft_id}/attachments/{digest}", headers=token)
    assert (downloaded.status_code, downloaded.content) == (200, PDF)
    assert (await client.get(f"/api/v1/drafts/{draft_id}/attachments/{digest}")).status_code == 401

    # Declared before the file is there: still to do; declared with the wrong type: an error.
    other = hashlib.sha256(b"other").hexdigest()
    declared = {"answers": {"agreement": PDF_ANSWER | {"sha256": other}}}
    waiting = (await client.patch(f"/api/v1/drafts/{draft_id}", json=declared, headers=token | MERGE)).json()
    assert (waiting["errors"], waiting["todo"]) == ([], ["/answers/agreement"])
    done = {"answers": {"agreement": PDF_ANSWER}}
    complete = (await client.patch(f"/api/v1/drafts/{draft_id}", json=done, headers=token | MERGE)).json()
    assert (complete["errors"], complete["todo"], complete["complete"]) == ([], [], True)

    removed = await client.delete(f"/api/v1/drafts/{draft_id}/attachments/{digest}", headers=token)
    assert removed.status_code == 204
    assert (await client.get(f"/api/v1/drafts/{draft_id}", headers=token)).json()["todo"] == ["/answers/agreement"]


async def test_file_limits(settings: Settings, tokens: Tokens) -> None:
    app = create_app(msgspec.structs.replace(settings, max_file_bytes=2048, max_submission_bytes=4096))
    async with AsyncTestClient(app) as client:
        await arrange(client, tokens)
        draft_id, token, _ = await new_draft(client, {})
        too_big = await upload(client, draft_id, token, b"0" * 2100, "text/plain")
        assert (too_big.status_code, too_big.json()["type"]) == (413, "https://shinsei.example/problems/too-large")
        for index in range(2):
            sent = await upload(client, draft_id, token, bytes([48 + index]) * 1900, "text/plain")
            assert sent.status_code == 201, sent.text
        over_total = await upload(client, draft_id, token, b"9" * 1900, "text/plain")
        assert over_total.status_code == 413
        assert "would total" in over_total.json()["detail"]


async def test_finalise_sign_submit_deletes_the_draft(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    draft_id, token, _ = await new_draft(client, {"workers": 12})
    early = await client.post(f"/api/v1/drafts/{draft_id}/finalize", headers=token)
    assert early.status_code == 422
    assert early.json()["todo"] == ["/answers/applicant_name", "/answers/agreement"]
    assert {(e["pointer"], e["code"]) for e in early.json()["errors"]} == {
        ("/answers/applicant_name", "required"),
        ("/answers/agreement", "required"),
    }
    assert await conn.fetchval("SELECT count(*) FROM draft_nonce") == 0  # refused: no nonce was kept

    await upload(client, draft_id, token)
    more = {"answers": {"applicant_name": "山田 太郎", "agreement": PDF_ANSWER}}
    assert (await client.patch(f"/api/v1/drafts/{draft_id}", json=more, headers=token | MERGE)).status_code == 200
    finalized = await client.post(f"/api/v1/drafts/{draft_id}/finalize", headers=token)
    assert finalized.status_code == 200, finalized.text
    assert finalized.headers["content-type"].startswith("application/json")
    document = finalized.content
    head = msgspec.json.decode(document)
    assert head["answers"] == more["answers"] | {"workers": 12}
    assert (head["form_id"], head["form_version"]) == ("t-overtime", 1)
    assert await conn.fetchval("SELECT draft_id FROM draft_nonce WHERE nonce = $1", head["nonce"]) == uuid.UUID(
        draft_id
    )

    # The client signs the bytes unchanged and submits them with the draft's file.
    await add_ocsp(conn, "applicant")
    signature = await asyncio.to_thread(pki.sign_pyhanko, "applicant", document)
    pdf = (await client.get(f"/api/v1/drafts/{draft_id}/attachments/{PDF_ANSWER['sha256']}", headers=token)).content
    parts = [
        ("document", ("document.json", document, "application/json")),
        ("signature", ("s.p7s", signature, "application/pkcs7-signature")),
        ("attachment", ("協定書.pdf", pdf, "application/pdf")),
    ]
    submitted = await client.post("/api/v1/submissions", files=parts)
    assert submitted.status_code == 201, submitted.text
    assert (await client.get(f"/api/v1/drafts/{draft_id}", headers=token)).status_code == 404
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM draft) AS d, (SELECT count(*) FROM draft_attachment) AS a,"
        " (SELECT count(*) FROM draft_nonce) AS n"
    )
    assert tuple(counts) == (0, 0, 0)  # type: ignore[arg-type]


async def test_failed_submission_keeps_the_draft(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    draft_id, token, _ = await new_draft(
        client, {"workers": 12, "applicant_name": "山田 太郎", "agreement": PDF_ANSWER}
    )
    await upload(client, draft_id, token)
    document = (await client.post(f"/api/v1/drafts/{draft_id}/finalize", headers=token)).content
    signature = await asyncio.to_thread(pki.sign_pyhanko, "revoked-applicant", document)
    parts = [
        ("document", ("document.json", document, "application/json")),
        ("signature", ("s.p7s", signature, "application/pkcs7-signature")),
        ("attachment", ("a.pdf", PDF, "application/pdf")),
    ]
    assert (await client.post("/api/v1/submissions", files=parts)).status_code == 422
    assert (await client.get(f"/api/v1/drafts/{draft_id}", headers=token)).status_code == 200


async def test_upgrade_moves_answers_by_field_id(client: Client, admin: dict[str, str]) -> None:
    draft_id, token, _ = await new_draft(client, {"applicant_name": "山田 太郎", "workers": 12})
    version_2 = FORM | {
        "sections": [
            {
                "id": "main",
                "title": {"ja": "本体"},
                "fields": [
                    {"id": "applicant_name", "type": "integer", "label": {"ja": "番号"}},
                    {"id": "office", "type": "text", "label": {"ja": "事業場"}, "required": True},
                ],
            }
        ]
    }
    assert (await client.put("/api/v1/forms/t-overtime/draft", json=version_2, headers=admin)).status_code == 201
    assert (await client.post("/api/v1/forms/t-overtime/draft/publish", headers=admin)).status_code == 200
    assert (await client.get(f"/api/v1/drafts/{draft_id}", headers=token)).json()["newer_version"] == 2

    upgraded = await client.post(f"/api/v1/drafts/{draft_id}/upgrade", headers=token)
    assert upgraded.status_code == 200, upgraded.text
    body = upgraded.json()
    assert body["upgrade"]["from_version"] == 1
    assert body["upgrade"]["to_version"] == 2
    assert body["upgrade"]["dropped"] == ["/answers/workers"]
    assert [(e["pointer"], e["code"]) for e in body["upgrade"]["invalid"]] == [("/answers/applicant_name", "type")]
    assert body["draft"]["answers"] == {"applicant_name": "山田 太郎"}
    assert (body["draft"]["form_version"], body["draft"]["todo"], body["draft"]["newer_version"]) == (
        2, ["/answers/office"], None,
    )  # fmt: skip
    again = (await client.post(f"/api/v1/drafts/{draft_id}/upgrade", headers=token)).json()["upgrade"]
    assert again == {"from_version": 2, "to_version": 2, "dropped": [], "invalid": []}


async def test_finalise_on_a_retired_version_asks_for_upgrade(client: Client, admin: dict[str, str]) -> None:
    draft_id, token, _ = await new_draft(
        client, {"workers": 12, "applicant_name": "山田 太郎", "agreement": PDF_ANSWER}
    )
    await upload(client, draft_id, token)
    assert (await client.post("/api/v1/forms/t-overtime/versions/1/retire", headers=admin)).status_code == 200
    refused = await client.post(f"/api/v1/drafts/{draft_id}/finalize", headers=token)
    assert refused.status_code == 409
    assert refused.json()["type"] == "https://shinsei.example/problems/form-version-state"
    assert refused.json()["form_version_status"] == "retired"


async def test_delete_and_purge(client: Client, admin: dict[str, str], conn: asyncpg.Connection) -> None:
    kept_id, kept, _ = await new_draft(client, {"workers": 1})
    gone_id, gone, _ = await new_draft(client, {"workers": 2})
    old_id, old, _ = await new_draft(client, {"workers": 3})
    await upload(client, old_id, old)
    assert (await client.delete(f"/api/v1/drafts/{gone_id}", headers=kept)).status_code == 404  # another's token
    assert (await client.delete(f"/api/v1/drafts/{gone_id}", headers=gone)).status_code == 204
    assert (await client.get(f"/api/v1/drafts/{gone_id}", headers=gone)).status_code == 404

    await conn.execute(
        "UPDATE draft SET created_at = now() - interval '40 days', expires_at = now() - interval '10 days'"
        " WHERE id = $1",
        old_id,
    )
    assert (await client.get(f"/api/v1/drafts/{old_id}", headers=old)).status_code == 404  # expired: not served
    now = dt.datetime.now(dt.UTC)
    async with conn.transaction():
        assert await purge_expired_drafts(conn, now, 10) == 1
    async with conn.transaction():
        assert await purge_expired_drafts(conn, now, 10) == 0
    assert await conn.fetchval("SELECT count(*) FROM draft_attachment") == 0
    assert [r["id"] for r in await conn.fetch("SELECT id FROM draft")] == [uuid.UUID(kept_id)]
