"""個人番号 end to end: refused with its pointer, encrypted at rest, masked everywhere, revealed with a reason.

Real signatures, a real PostgreSQL (its own pg_dump greps the whole database), real HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import io
import logging
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.auth import service as auth_service
from service.auth.schemas import TokenIn
from service.mynumber import documents, envelope
from service.settings import Settings
from service.submissions.reverify import reverify_pending
from service.trust.service import Verifiers
from tests import pki
from tests.api.test_bundle import trust_files, verify_bundle
from tests.api.test_submissions import add_ocsp, new_nonce
from tests.conftest import Tokens
from tests.forms.helpers import field

Client = AsyncTestClient[Litestar]
NUMBER = "123456789018"
CHILD = "111111111118"
#: What may never be found where the number must not be: the digits, and their hex (bytea in a dump).
NEEDLES = [NUMBER.encode(), NUMBER.encode().hex().encode(), CHILD.encode(), CHILD.encode().hex().encode()]

FORM = {
    "id": "t-koyo",
    "procedure": "mhlw-koyo-hoken-shutoku",  # the sample catalogue declares the basis
    "title": {"ja": "試験用資格取得届"},
    "signature": {"accept": ["jpki"]},
    "sections": [
        {
            "id": "main",
            "title": {"ja": "本体"},
            "fields": [
                field("applicant_name", "text", required=True),
                field("my_number", "my_number", required=True),
                field("family", "group", fields=[field("relation", "text"), field("number", "my_number")]),
            ],
        }
    ],
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The app under test with a master key file, as production is configured."""
    key_file = tmp_path / "my-number.keys"
    key_file.write_text(envelope.encode_key(envelope.new_key()) + "\n")
    return msgspec.structs.replace(settings, my_number_master_key_file=str(key_file), metrics="open")


@pytest.fixture
async def admin(client: Client, tokens: Tokens) -> dict[str, str]:
    from tests.api.conftest import arrange

    header = await arrange(client, tokens)
    assert (await client.post("/api/v1/forms", json=FORM, headers=header)).status_code == 201
    assert (await client.post("/api/v1/forms/t-koyo/draft/publish", headers=header)).status_code == 200
    return header


def document(nonce: str, **answers: Any) -> bytes:
    answers = {
        "applicant_name": "山田 太郎",
        "my_number": NUMBER,
        "family": [{"relation": "子", "number": CHILD}],
    } | answers
    return msgspec.json.encode({"form_id": "t-koyo", "form_version": 1, "nonce": nonce, "answers": answers})


def parts(doc: bytes, signature: bytes) -> list[tuple[str, Any]]:
    return [
        ("document", ("document.json", doc, "application/json")),
        ("signature", ("s.p7s", signature, "application/pkcs7-signature")),
    ]


async def submit(client: Client, conn: asyncpg.Connection, **answers: Any) -> dict[str, Any]:
    nonce = await new_nonce(client, "t-koyo")
    doc = document(nonce, **answers)
    await add_ocsp(conn, "applicant")
    signature = await asyncio.to_thread(pki.sign_openssl, "applicant", doc)
    response = await client.post("/api/v1/submissions", files=parts(doc, signature))
    assert response.status_code == 201, response.text
    return response.json() | {"document": doc}


async def staff(conn: asyncpg.Connection, agency: str = "MHLW", *, allowed: bool = False) -> dict[str, str]:
    request = TokenIn(role="clerk", agency=agency, permissions=["my_number:read"] if allowed else [])
    issued = await auth_service.issue_token(conn, request)
    return {"Authorization": f"Bearer {issued.token}"}


def clean(data: bytes) -> bool:
    return not any(needle in data for needle in NEEDLES)


async def test_a_wrong_check_digit_is_refused_with_its_pointer(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    nonce = await new_nonce(client, "t-koyo")
    doc = document(nonce, my_number="123456789019", family=[{"number": "1234-5678-9018"}])
    signature = await asyncio.to_thread(pki.sign_openssl, "applicant", doc)
    response = await client.post("/api/v1/submissions", files=parts(doc, signature))
    assert response.status_code == 422, response.text
    assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [
        ("/answers/my_number", "check_digit"),
        ("/answers/family/0/number", "pattern"),
    ]
    assert await conn.fetchval("SELECT count(*) FROM revision") == 0


async def test_the_number_is_not_in_the_database(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    body = await submit(client, conn)
    # The document is kept byte-exact, but encrypted: its hash (in clear) still names it.
    stored = await conn.fetchrow("SELECT id, document, document_sha256 FROM revision")
    assert stored is not None and stored["document"] != body["document"] and clean(stored["document"])
    # Every text, bytea and jsonb column of every table, read back through SQL.
    columns = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND data_type IN ('text', 'bytea', 'jsonb', 'ARRAY', 'character varying')"
    )
    for c in columns:
        found = await conn.fetchval(
            f'SELECT count(*) FROM "{c["table_name"]}" WHERE position($1::bytea IN convert_to("{c["column_name"]}"::text, \'UTF8\')) > 0'  # noqa: S608, E501
            f' OR position($2::bytea IN convert_to("{c["column_name"]}"::text, \'UTF8\')) > 0',
            NUMBER.encode(), NUMBER.encode().hex().encode(),
        )  # fmt: skip
        assert found == 0, (c["table_name"], c["column_name"])
    # And the whole database as pg_dump writes it (bytea as hex), with the pg_dump of the embedded
    # PostgreSQL (found without importing pgserver, which warns).
    spec = importlib.util.find_spec("pgserver")
    assert spec is not None and spec.origin is not None
    pg_dump = Path(spec.origin).parent / "pginstall" / "bin" / "pg_dump"
    dump = await asyncio.to_thread(subprocess.run, [str(pg_dump), "--no-owner", db], capture_output=True, check=True)
    assert len(dump.stdout) > 10_000 and b"revision_my_number" in dump.stdout
    assert clean(dump.stdout)
    assert "山田 太郎".encode() in dump.stdout  # the grep finds what is there: the name in the masked answers
    # The masked answers are there, so views need no key.
    masked = await conn.fetchval("SELECT answers FROM revision_my_number")
    assert masked["my_number"] == "**** **** 9018" and masked["family"][0]["number"] == "**** **** 1118"


async def test_a_clerk_without_the_permission_sees_it_masked_everywhere(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    body = await submit(client, conn)
    clerk = await staff(conn)
    applicant = {"Authorization": f"Bearer {body['access_token']}"}
    view = await client.get(body["links"]["self"], headers=clerk)
    assert view.status_code == 200 and clean(view.content)
    answers = {a["pointer"]: a for a in view.json()["answers"]}
    assert (answers["/answers/my_number"]["value"], answers["/answers/my_number"]["display"]) == (
        "**** **** 9018",
        "**** **** 9018",
    )
    assert answers["/answers/family"]["value"] == [{"relation": "子", "number": "**** **** 1118"}]
    for header in (clerk, applicant):
        for link in ("self", "receipt", "receipt_pdf"):
            if link in body["links"]:
                shown = await client.get(body["links"][link], headers=header)
                assert shown.status_code in (200, 403, 404) and clean(shown.content), (link, header is clerk)
    one = await client.get(f"{body['links']['self']}/answers/my_number", headers=clerk)
    assert one.status_code == 200 and one.json()["value"] == "**** **** 9018" and not one.json()["revealed"]
    refused = await client.get(f"{body['links']['self']}/answers/my_number?reveal=true&reason=審査", headers=clerk)
    assert refused.status_code == 403 and clean(refused.content)
    refused = await client.get(f"{body['links']['self']}/answers/my_number?reveal=true&reason=本人", headers=applicant)
    assert refused.status_code in (401, 403, 404) and clean(refused.content)
    bundle = await client.get(f"{body['links']['self']}/bundle", headers=clerk)
    assert bundle.status_code == 200 and clean(bundle.content)
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        assert all(clean(archive.read(name)) for name in archive.namelist())


async def test_reveal_with_the_permission_and_a_reason_is_audited(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    body = await submit(client, conn)
    allowed = await staff(conn, allowed=True)
    base = f"{body['links']['self']}/answers"
    no_reason = await client.get(f"{base}/my_number?reveal=true", headers=allowed)
    assert no_reason.status_code == 400 and no_reason.json()["errors"][0]["parameter"] == "reason"
    leaky = await client.get(
        f"{base}/my_number", params={"reveal": "true", "reason": f"確認 {NUMBER}"}, headers=allowed
    )
    assert leaky.status_code == 400 and leaky.json()["errors"][0]["code"] == "contains_number"

    revealed = await client.get(
        f"{base}/my_number", params={"reveal": "true", "reason": "資格取得の照合"}, headers=allowed
    )
    assert revealed.status_code == 200, revealed.text
    assert revealed.json() | {"label": None} == {
        "pointer": "/answers/my_number", "revision": 1, "label": None, "type": "my_number", "value": NUMBER,
        "display": "1234 5678 9018", "revealed": True,
    }  # fmt: skip
    assert revealed.headers["cache-control"] == "no-store"
    child = await client.get(
        f"{base}/family/0/number", params={"reveal": "true", "reason": "扶養確認"}, headers=allowed
    )
    assert child.json()["value"] == CHILD
    # Another agency's clerk with the permission: the application does not exist for them.
    other = await staff(conn, "NTA", allowed=True)
    assert (await client.get(f"{base}/my_number?reveal=true&reason=x", headers=other)).status_code == 404

    events = await conn.fetch(
        "SELECT actor, role, agency_code, action, subject, details FROM audit_event"
        " WHERE action = 'my_number.revealed' ORDER BY seq"
    )
    token_id = await conn.fetchval(
        "SELECT id FROM api_token WHERE 'my_number:read' = ANY(permissions) AND agency_code = 'MHLW'"
    )
    who = (str(token_id), "clerk", "MHLW", body["submission_id"])
    assert [(e["actor"], e["role"], e["agency_code"], e["subject"], e["details"]) for e in events] == [
        (*who, {"revision": 1, "pointer": "/answers/my_number", "reason": "資格取得の照合"}),
        (*who, {"revision": 1, "pointer": "/answers/family/0/number", "reason": "扶養確認"}),
    ]
    # The review view shows the reveal on the application's audit trail, the number still masked.
    view = await client.get(body["links"]["self"], headers=allowed)
    assert "my_number.revealed" in [a["action"] for a in view.json()["audit"]] and clean(view.content)
    # The evidence bundle for an authorised requester, with a reason, carries the signed bytes.
    bundle = await client.get(
        f"{body['links']['self']}/bundle", params={"reveal": "true", "reason": "証拠提出"}, headers=allowed
    )
    assert bundle.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        assert body["document"] in [archive.read(n) for n in archive.namelist()]


async def test_logs_events_webhooks_and_metrics_never_carry_it(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    body = await submit(client, conn)
    allowed = await staff(conn, allowed=True)
    revealed = await client.get(
        f"{body['links']['self']}/answers/my_number", params={"reveal": "true", "reason": "照合"}, headers=allowed
    )
    assert revealed.json()["value"] == NUMBER  # it was in clear in this process
    captured = capsys.readouterr()
    assert clean(caplog.text.encode()) and clean(captured.out.encode()) and clean(captured.err.encode())
    events = await conn.fetch("SELECT kind, message, fields FROM submission_event")
    assert events and clean(repr([dict(e) for e in events]).encode())
    audit = await conn.fetch("SELECT details FROM audit_event")
    assert clean(msgspec.json.encode([a["details"] for a in audit]))
    # The outbox's events: what the feed pages and every webhook delivery's body is.
    feed = await client.get("/api/v1/events", headers=allowed)
    assert feed.status_code == 200 and feed.json()["items"] and clean(feed.content)
    outbox = await conn.fetch("SELECT outbox_event::text AS row FROM outbox_event")
    assert outbox and clean("\n".join(r["row"] for r in outbox).encode())
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and b"shinsei_" in metrics.content and clean(metrics.content)


async def test_early_purge_of_the_number_alone(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens
) -> None:
    body = await submit(client, conn)
    allowed = await staff(conn, allowed=True)
    # Not due: the procedure keeps it as long as the application.
    assert await documents.purge_due(conn, dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)) == 0
    await conn.execute(
        """UPDATE procedure SET my_number = my_number || '{"retain_days": 30}' WHERE id = 'mhlw-koyo-hoken-shutoku'"""
    )
    assert await documents.purge_due(conn, dt.datetime.now(dt.UTC) + dt.timedelta(days=29)) == 0
    assert await documents.purge_due(conn, dt.datetime.now(dt.UTC) + dt.timedelta(days=31)) == 1
    assert await documents.purge_due(conn, dt.datetime.now(dt.UTC) + dt.timedelta(days=31)) == 0  # once
    row = await conn.fetchrow(
        "SELECT r.document, r.document_sha256, m.answers, m.purged_at"
        " FROM revision r JOIN revision_my_number m ON m.revision_id = r.id"
    )
    assert row is not None and row["document"] == b"" and row["purged_at"] is not None
    assert row["answers"] == {
        "applicant_name": "山田 太郎",
        "my_number": "**** **** ****",
        "family": [{"relation": "子", "number": "**** **** ****"}],
    }
    # The rest of the application stays: the view, its receipt, its audit trail with the purge on it.
    view = await client.get(body["links"]["self"], headers=allowed)
    assert view.status_code == 200 and view.json()["revisions"][0]["document_sha256"] == row["document_sha256"].hex()
    gone = await client.get(
        f"{body['links']['self']}/answers/my_number", params={"reveal": "true", "reason": "照合"}, headers=allowed
    )
    assert gone.status_code == 404 and "purged" in gone.json()["detail"]
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_event ORDER BY seq")]
    assert "my_number.purged" in actions and "submission.received" in actions


async def test_production_without_a_key_takes_no_such_submission(
    settings: Settings, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    bare = create_app(msgspec.structs.replace(settings, my_number_master_key_file=None))
    async with AsyncTestClient(bare) as other:
        nonce = await new_nonce(other, "t-koyo")
        doc = document(nonce)
        await add_ocsp(conn, "applicant")
        signature = await asyncio.to_thread(pki.sign_openssl, "applicant", doc)
        response = await other.post("/api/v1/submissions", files=parts(doc, signature))
    assert response.status_code == 503, response.text
    assert response.json()["type"].endswith("/my-number-unavailable")
    assert await conn.fetchval("SELECT count(*) FROM revision") == 0


async def test_a_pending_signature_is_judged_again_on_the_opened_document(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, app: Litestar
) -> None:
    await conn.execute("DELETE FROM trust_crl")  # no revocation data: the signature waits
    nonce = await new_nonce(client, "t-koyo")
    doc = document(nonce)
    signature = await asyncio.to_thread(pki.sign_openssl, "applicant", doc)
    response = await client.post("/api/v1/submissions", files=parts(doc, signature))
    assert response.status_code == 201 and response.json()["verification"]["status"] == "pending"
    await add_ocsp(conn, "applicant")
    verifiers = Verifiers()
    now = dt.datetime.now(dt.UTC)
    async with conn.transaction():  # without the key: left as it is, the job goes on
        outcome = await reverify_pending(conn, await verifiers.current(conn), now, keys=None)
    assert outcome == {"passed": 0, "pending": 0, "failed": 0, "confirmed": 0}
    async with conn.transaction():
        outcome = await reverify_pending(conn, await verifiers.current(conn), now, keys=app.state.services.my_number)
    assert outcome == {"passed": 1, "pending": 0, "failed": 0, "confirmed": 1}


async def test_both_bundles_check_offline(
    client: Client, app: Litestar, admin: dict[str, str], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """Withheld: every other item still checks, the document's is indeterminate; revealed: all ok."""
    body = await submit(client, conn)
    allowed = await staff(conn, allowed=True)
    ca, root = trust_files(tmp_path, app)
    outcomes = []
    for name, params in (("masked", {}), ("revealed", {"reveal": "1", "reason": "証拠提出"})):
        response = await client.get(f"{body['links']['self']}/bundle", params=params, headers=allowed)
        path = tmp_path / f"{name}.zip"
        path.write_bytes(response.content)
        code, report = await asyncio.to_thread(verify_bundle, path, ca, root)
        outcomes.append((code, {f["item"]: f["outcome"] for f in report["findings"]}))
    common = {"manifest": "ok", "revision 1 receipt": "ok", "revision 1 contents": "ok"}
    assert outcomes == [
        (3, common | {"revision 1 document": "indeterminate"}),
        (0, common | {"revision 1 signature 1": "ok"}),
    ]
    revealed = await conn.fetch("SELECT details FROM audit_event WHERE action = 'my_number.revealed'")
    bundles = [r["details"] for r in revealed]
    assert bundles == [{"bundle": True, "reason": "証拠提出"}]  # the masked one revealed nothing


async def test_a_draft_keeps_its_number_encrypted(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    answers = {"my_number": NUMBER, "family": [{"relation": "子", "number": CHILD}]}
    created = await client.post("/api/v1/drafts", json={"form_id": "t-koyo", "answers": answers})
    assert created.status_code == 201, created.text
    draft_id, token = created.json()["draft_id"], created.json()["draft_token"]
    assert created.json()["draft"]["answers"] == answers  # its own token holder reads what they wrote
    header = {"Authorization": f"Bearer {token}"}
    stored = await conn.fetchval("SELECT answers FROM draft")
    assert clean(msgspec.json.encode(stored)) and stored["my_number"].startswith("my-number-sealed:")
    patched = await client.patch(
        f"/api/v1/drafts/{draft_id}", content=b'{"answers": {"applicant_name": "\\u5c71\\u7530 \\u592a\\u90ce"}}',
        headers=header | {"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert patched.json()["complete"] and patched.json()["answers"]["my_number"] == NUMBER
    assert clean(msgspec.json.encode(await conn.fetchval("SELECT answers FROM draft")))
    final = await client.post(f"/api/v1/drafts/{draft_id}/finalize", headers=header)
    assert final.status_code == 200, final.text
    assert msgspec.json.decode(final.content)["answers"]["my_number"] == NUMBER  # the bytes to sign carry it


async def test_the_retention_purge_takes_the_masked_answers_too(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, db: str
) -> None:
    """At the end of the application's retention period nothing of it is left beside the tombstone."""
    from tests.api.test_queue import clerk
    from tests.api.test_retention import decided_at, end_of_period, run_at
    from tests.api.test_review import decide, view

    body = await submit(client, conn)
    _, header = await clerk(conn)
    assert (await client.post("/api/v1/queue/claim", headers=header)).status_code == 200
    _, etag = await view(client, body, header)
    assert (await decide(client, body, header, etag, "approve")).status_code == 200
    assert await conn.fetchval("SELECT count(*) FROM revision_my_number") == 1
    await run_at(db, end_of_period(await decided_at(conn, body), 5))
    assert await conn.fetchval("SELECT count(*) FROM revision_my_number") == 0
    assert await conn.fetchval("SELECT count(*) FROM revision WHERE document IS NOT NULL") == 0
