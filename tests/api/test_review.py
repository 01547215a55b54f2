"""Clerk review end to end over HTTP: views, decisions with ETags, notices, comments, assignment, audit."""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from asn1crypto import pem, x509
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.audit import trail
from service.submissions import workflow
from service.submissions.schemas import Status
from signing.receipts import verify_receipt
from tests import pki
from tests.api.conftest import FORM
from tests.api.test_queue import clerk
from tests.api.test_submissions import PDF, add_ocsp, document, new_nonce, parts
from tests.conftest import Tokens
from tests.forms.helpers import field
from tests.pdf import page_text, unwrapped

Client = AsyncTestClient[Litestar]


async def submit(client: Client, conn: asyncpg.Connection, **answers: Any) -> dict[str, Any]:
    """A submission whose signature has passed (an OCSP answer newer than the nonce)."""
    nonce = await new_nonce(client)
    doc = document(nonce, **answers)
    await add_ocsp(conn, "applicant")
    response = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)], [PDF]))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json() | {"document": doc}
    assert body["verification"]["status"] == "passed"
    return body


def bearer(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['access_token']}"}


def slug(response: Any) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[1]


async def view(client: Client, submission: dict[str, Any], header: dict[str, str]) -> tuple[dict[str, Any], str]:
    response = await client.get(submission["links"]["self"], headers=header)
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


async def decide(
    client: Client, submission: dict[str, Any], header: dict[str, str], etag: str | None, decision: str, **extra: Any
) -> Any:
    headers = header | ({"If-Match": etag} if etag is not None else {})
    body = {"decision": decision, "message": "審査の結果", **extra}
    return await client.post(f"{submission['links']['self']}/decision", json=body, headers=headers)


async def withdraw(client: Client, submission: dict[str, Any]) -> Any:
    """取下げ, signed by the applicant with a fresh nonce."""
    token = bearer(submission)
    nonce = (await client.post(f"{submission['links']['self']}/nonces", headers=token)).json()["nonce"]
    request = msgspec.json.encode({"action": "withdraw", "submission_id": submission["submission_id"], "nonce": nonce})
    files = [
        ("document", ("w.json", request, "application/json")),
        ("signature", ("w.p7s", pki.sign_openssl("applicant", request), "application/pkcs7-signature")),
    ]
    return await client.post(f"{submission['links']['self']}/withdraw", files=files, headers=token)


def agency_root(app: Litestar) -> x509.Certificate:
    root: x509.Certificate = app.state.services.receipt_key.chain[-1]
    return root


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False)


async def test_approve_flow_with_a_signed_notice(
    client: Client, app: Litestar, admin: dict[str, str], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    submission = await submit(client, conn)
    me, header = await clerk(conn)
    claimed = await client.post("/api/v1/queue/claim", headers=header)
    assert claimed.json()["id"] == submission["submission_id"]

    seen, etag = await view(client, submission, header)
    assert seen["etag"] == etag and seen["status"] == "under_review" and seen["assignee"] == str(me.token_id)
    assert seen["first_opened_at"] is not None and seen["allowed_actions"] == [
        "assign", "release", "approve", "reject", "request_correction"
    ]  # fmt: skip
    assert [(a["label"]["ja"], a["display"]) for a in seen["answers"]] == [
        ("applicant_name", "山田 太郎"), ("workers", "12"), ("agreement", f"協定書.pdf ({len(PDF)} bytes)")
    ]  # fmt: skip
    [revision] = seen["revisions"]
    [signature] = revision["signatures"]
    assert signature["report"]["indication"] == "TOTAL_PASSED"
    assert signature["report"]["holder"]["name"] == "山田 太郎"
    assert signature["report"]["revocation"]["kind"] == "ocsp"
    [attachment] = revision["attachments"]
    assert attachment["sha256"] == hashlib.sha256(PDF).hexdigest() and revision["changes"] is None
    assert [e["action"] for e in seen["audit"]] == ["submission.received", "submission.claimed", "submission.viewed"]
    assert seen["audit"][-1]["details"] == {"first": True}
    queue = (await client.get("/api/v1/queue", headers=header)).json()["items"]
    assert queue[0]["unread"] is False

    download = await client.get(attachment["download"], headers=header)
    assert download.status_code == 200 and download.content == PDF
    assert "filename*=UTF-8''%E5%8D%94%E5%AE%9A%E6%9B%B8.pdf" in download.headers["content-disposition"]
    own = await client.get(attachment["download"], headers=bearer(submission))
    assert own.status_code == 200 and own.content == PDF

    approved = await decide(client, submission, header, etag, "approve")
    assert approved.status_code == 200, approved.text
    result = approved.json()
    notice_number = f"{submission['receipt_number']}-D"
    assert (result["status"], result["notice_number"]) == ("approved", notice_number)
    notice_link = f"{submission['links']['self']}/decision-notice.json"
    assert result["links"]["decision_notice"] == notice_link

    applicant = (await client.get(submission["links"]["self"], headers=bearer(submission))).json()
    assert applicant["status"] == "approved" and applicant["links"]["decision_notice"] == notice_link
    assert applicant["timeline"][-1]["kind"] == "approved" and applicant["timeline"][-1]["message"] == "審査の結果"
    assert "comments" not in applicant and "audit" not in applicant

    notice = (await client.get(notice_link, headers=bearer(submission))).content
    signature_bytes = (await client.get(notice_link.replace(".json", ".p7s"), headers=bearer(submission))).content
    pdf = (await client.get(notice_link.replace(".json", ".pdf"), headers=bearer(submission))).content
    facts = msgspec.json.decode(notice)
    assert facts["decision"] == "approved" and facts["notice_number"] == notice_number
    assert facts["document_sha256"] == hashlib.sha256(submission["document"]).hexdigest()
    assert verify_receipt(notice, signature_bytes, [agency_root(app)]).passed
    assert not verify_receipt(notice.replace(b"approved", b"rejected"), signature_bytes, [agency_root(app)]).passed
    text = unwrapped(page_text(pdf))
    for expected in (
        "決定通知書",
        "手続 Procedure: 時間外労働・休日労働に関する協定届（36協定届）",
        "申請者 Applicant: 山田 太郎",
        "承認 Approved",
        "審査の結果",
        notice_link,
        "shinsei verify-receipt decision-notice.json decision-notice.p7s --trust chain.pem",
    ):
        assert expected in text, expected
    (tmp_path / "notice.json").write_bytes(notice)
    (tmp_path / "notice.p7s").write_bytes(signature_bytes)
    (tmp_path / "notice.pdf").write_bytes(pdf)
    (tmp_path / "root.pem").write_bytes(pem.armor("CERTIFICATE", agency_root(app).dump()))
    (tmp_path / "chain.pem").write_bytes(app.state.services.receipt_key.chain_pem())
    openssl = await asyncio.to_thread(
        run, "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "notice.p7s",
        "-content", tmp_path / "notice.json", "-certfile", tmp_path / "chain.pem", "-CAfile", tmp_path / "root.pem",
        "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip
    assert openssl.returncode == 0, openssl.stderr
    pyhanko = await asyncio.to_thread(
        run, sys.executable, "-m", "pyhanko", "sign", "validate", "--no-revocation-check",
        "--trust", tmp_path / "root.pem", "--trust-replace", tmp_path / "notice.pdf",
    )  # fmt: skip
    assert pyhanko.returncode == 0, pyhanko.stdout + pyhanko.stderr
    ours = await asyncio.to_thread(
        run, Path(sys.executable).parent / "shinsei", "verify-receipt", tmp_path / "notice.json",
        tmp_path / "notice.p7s", "--trust", tmp_path / "root.pem",
    )  # fmt: skip
    assert ours.returncode == 0, ours.stderr
    assert msgspec.json.decode(ours.stdout)["decision_notice"]["notice_number"] == notice_number

    again = await decide(client, submission, header, etag, "reject")
    assert (again.status_code, again.json()["current_state"]) == (409, "approved")
    actions = [e["action"] for e in (await view(client, submission, header))[0]["audit"]]
    assert actions[3:] == [
        "attachment.downloaded", "attachment.downloaded", "submission.approved", "decision_notice.downloaded",
        "decision_notice.downloaded", "decision_notice.downloaded", "submission.viewed",
    ]  # fmt: skip
    assert (await trail.verify_chain(conn)).broken_at is None


#: The test form with a date, a prefecture and a choice: answers whose display differs from their value.
DATED = FORM | {
    "id": "t-dated",
    "sections": [
        FORM["sections"][0]
        | {
            "fields": [
                *FORM["sections"][0]["fields"],
                field("start", "date", required=True),
                field("prefecture", "prefecture"),
                field("shift", "choice", options=[{"value": "day", "label": {"ja": "日勤"}}]),
            ]
        }
    ],
}


async def submit_dated(client: Client, conn: asyncpg.Connection, header: dict[str, str]) -> dict[str, Any]:
    """A passed submission of ``DATED`` (published here with ``header``, an admin's): starts 2026-11-01, in Tokyo."""
    assert (await client.post("/api/v1/forms", json=DATED, headers=header)).status_code == 201
    assert (await client.post("/api/v1/forms/t-dated/draft/publish", headers=header)).status_code == 200
    doc = document(await new_nonce(client, "t-dated"), form="t-dated", start="2026-11-01", prefecture="13", shift="day")
    await add_ocsp(conn, "applicant")
    response = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)], [PDF]))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_clerk_view_shows_each_answer_as_its_field_type_displays_it(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    submission = await submit_dated(client, conn, admin)
    _, header = await clerk(conn)
    seen, _ = await view(client, submission, header)
    assert [(a["pointer"], a["value"], a["display"]) for a in seen["answers"][3:]] == [
        ("/answers/start", "2026-11-01", "令和8年11月1日 (2026-11-01)"),
        ("/answers/prefecture", "13", "東京都"),
        ("/answers/shift", "day", "日勤"),
    ]


async def test_reject_flow(client: Client, admin: dict[str, str], conn: asyncpg.Connection) -> None:
    submission = await submit(client, conn)
    _, header = await clerk(conn)
    await client.post("/api/v1/queue/claim", headers=header)
    _, etag = await view(client, submission, header)
    rejected = await decide(client, submission, header, etag, "reject", message="要件を満たしていません")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    notice = msgspec.json.decode(
        (await client.get(rejected.json()["links"]["decision_notice"], headers=header)).content
    )
    assert (notice["decision"], notice["message"]) == ("rejected", "要件を満たしていません")
    late = await withdraw(client, submission)
    assert (late.status_code, late.json()["current_state"]) == (409, "rejected")


async def test_correction_amendment_then_approve(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    submission = await submit(client, conn)
    me, header = await clerk(conn)
    await client.post("/api/v1/queue/claim", headers=header)
    _, etag = await view(client, submission, header)
    unknown = await decide(client, submission, header, etag, "request_correction", fields=["/answers/nope", "/x"])
    assert (unknown.status_code, slug(unknown)) == (422, "form-invalid")
    assert [e["pointer"] for e in unknown.json()["errors"]] == ["/fields/0", "/fields/1"]
    sent_back = await decide(
        client, submission, header, etag, "request_correction", message="労働者数を確認してください",
        fields=["/answers/workers"],
    )  # fmt: skip
    assert sent_back.status_code == 200 and sent_back.json() | {"notice_number": None} == sent_back.json()
    applicant = (await client.get(submission["links"]["self"], headers=bearer(submission))).json()
    assert applicant["status"] == "correction_requested"
    assert applicant["timeline"][-1] | {"at": None} == {
        "kind": "correction_requested", "at": None, "revision": 1, "message": "労働者数を確認してください",
        "fields": ["/answers/workers"],
    }  # fmt: skip

    amendment = msgspec.json.encode(
        msgspec.json.decode(document(await new_nonce(client), workers=20))
        | {"amends": {"submission_id": submission["submission_id"],
                      "document_sha256": hashlib.sha256(submission["document"]).hexdigest()}}
    )  # fmt: skip
    await add_ocsp(conn, "applicant")
    amended = await client.post(
        "/api/v1/submissions", files=parts(amendment, [pki.sign_openssl("applicant", amendment)], [PDF])
    )
    assert amended.status_code == 201, amended.text

    stale = await decide(client, submission, header, etag, "approve")
    assert (stale.status_code, slug(stale)) == (412, "precondition-failed")
    seen, fresh = await view(client, submission, header)
    assert fresh != etag and seen["status"] == "under_review" and seen["assignee"] == str(me.token_id)
    assert seen["revisions"][1]["changes"] == [
        {"pointer": "/answers/workers", "label": {"ja": "workers"}, "before": 12, "after": 20}
    ]
    assert seen["answers"][1]["value"] == 20
    approved = await decide(client, submission, header, f'W/"x", {fresh}', "approve")
    assert approved.status_code == 200, approved.text
    notice = msgspec.json.decode(
        (await client.get(approved.json()["links"]["decision_notice"], headers=header)).content
    )
    assert notice["revision"] == 2 and notice["receipt_number"] == amended.json()["receipt_number"]


async def test_withdrawal_during_review(client: Client, admin: dict[str, str], conn: asyncpg.Connection) -> None:
    submission = await submit(client, conn)
    _, header = await clerk(conn)
    await client.post("/api/v1/queue/claim", headers=header)
    _, etag = await view(client, submission, header)
    withdrawn = await withdraw(client, submission)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    late = await decide(client, submission, header, etag, "approve")
    assert (late.status_code, late.json()["current_state"], late.json()["action"]) == (409, "withdrawn", "approve")


async def test_if_match_is_required_and_checked(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    submission = await submit(client, conn)
    _, header = await clerk(conn)
    await client.post("/api/v1/queue/claim", headers=header)
    missing = await decide(client, submission, header, None, "approve")
    assert (missing.status_code, slug(missing)) == (428, "precondition-required")
    wrong = await decide(client, submission, header, '"r1-0000"', "approve")
    assert (wrong.status_code, slug(wrong)) == (412, "precondition-failed")
    weak = await decide(client, submission, header, "W/" + (await view(client, submission, header))[1], "approve")
    assert weak.status_code == 412  # If-Match compares strongly (RFC 9110 §13.1.1)
    assert await conn.fetchval("SELECT status FROM submission") == "under_review"
    invalid = await client.post(
        f"{submission['links']['self']}/decision", json={"decision": "maybe", "message": ""}, headers=header
    )
    assert (invalid.status_code, sorted(e["pointer"] for e in invalid.json()["errors"])) == (
        422, ["/decision", "/message"]
    )  # fmt: skip


STAFF_ACTIONS: list[workflow.Action] = ["assign", "release", "approve", "reject", "request_correction"]
STATUSES: list[Status] = [
    "received", "under_review", "correction_requested", "approved", "rejected", "withdrawn", "signature_invalid"
]  # fmt: skip


async def test_every_staff_transition_follows_the_one_table(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    submission = await submit(client, conn)
    clerk_principal, _ = await clerk(conn)
    head = await Tokens(conn).header("agency-admin", "MHLW")
    _, etag = await view(client, submission, head)
    sid = submission["submission_id"]
    for status in STATUSES:
        for action in STAFF_ACTIONS:
            await conn.execute("DELETE FROM decision")
            await conn.execute(
                "UPDATE submission SET status = $2, assignee = $3 WHERE id = $1", sid, status, clerk_principal.token_id
            )
            if action == "assign":
                response = await client.post(
                    f"/api/v1/submissions/{sid}/assign", json={"clerk": str(clerk_principal.token_id)}, headers=head
                )
            elif action == "release":
                response = await client.post(f"/api/v1/submissions/{sid}/release", headers=head)
            else:
                response = await decide(client, submission, head, etag, action)
            after = await conn.fetchval("SELECT status FROM submission WHERE id = $1", sid)
            expected = workflow.STEPS.get((status, action))
            if expected is None:
                assert (response.status_code, response.json()["current_state"]) == (409, status), (status, action)
                assert after == status
            else:
                assert response.status_code == 200, (status, action, response.text)
                assert after == expected, (status, action)


def test_the_table_closes_every_final_state() -> None:
    for status in workflow.FINAL:
        assert workflow.allowed(status, frozenset(a for _, a in workflow.STEPS)) == []
    for status in STATUSES:
        for action in ("amend", "withdraw", "signature_failed", "claim"):
            if (status, action) not in workflow.STEPS:
                with pytest.raises(Exception, match=status):
                    workflow.advance(status, action)


async def test_assignment_release_and_comments(client: Client, admin: dict[str, str], conn: asyncpg.Connection) -> None:
    submission = await submit(client, conn)
    sid = submission["submission_id"]
    head = await Tokens(conn).header("agency-admin", "MHLW")
    first, first_header = await clerk(conn)
    second, second_header = await clerk(conn)
    foreign, _ = await clerk(conn, "MOJ")

    by_clerk = await client.post(f"/api/v1/submissions/{sid}/assign", json={"clerk": str(second.token_id)},
                                 headers=first_header)  # fmt: skip
    assert (by_clerk.status_code, slug(by_clerk)) == (403, "forbidden")
    outsider = await client.post(f"/api/v1/submissions/{sid}/assign", json={"clerk": str(foreign.token_id)},
                                 headers=head)  # fmt: skip
    assert (outsider.status_code, outsider.json()["errors"][0]["pointer"]) == (422, "/clerk")
    assigned = await client.post(f"/api/v1/submissions/{sid}/assign", json={"clerk": str(first.token_id)},
                                 headers=head)  # fmt: skip
    assert assigned.json() == {"submission_id": sid, "status": "under_review", "assignee": str(first.token_id)}

    _, etag = await view(client, submission, second_header)
    not_theirs = await decide(client, submission, second_header, etag, "approve")
    assert (not_theirs.status_code, not_theirs.json()["assignee"]) == (409, str(first.token_id))
    released_by_other = await client.post(f"/api/v1/submissions/{sid}/release", headers=second_header)
    assert released_by_other.status_code == 403
    released = await client.post(f"/api/v1/submissions/{sid}/release", headers=first_header)
    assert released.json() == {"submission_id": sid, "status": "received", "assignee": None}
    claimed = await client.post("/api/v1/queue/claim", headers=second_header)
    assert claimed.json()["id"] == sid

    note = await client.post(f"/api/v1/submissions/{sid}/comments", json={"body": "在籍証明を確認済み"},
                             headers=second_header)  # fmt: skip
    assert note.status_code == 201 and note.json()["author"] == str(second.token_id)
    empty = await client.post(f"/api/v1/submissions/{sid}/comments", json={"body": ""}, headers=second_header)
    assert empty.status_code == 422 and empty.json()["errors"][0]["pointer"] == "/body"
    seen, _ = await view(client, submission, first_header)
    assert [c["body"] for c in seen["comments"]] == ["在籍証明を確認済み"]
    applicant = await client.get(submission["links"]["self"], headers=bearer(submission))
    assert "在籍証明" not in applicant.text
    actions = [a["action"] for a in seen["audit"]]
    assert actions[:6] == [
        "submission.received", "submission.assigned", "submission.viewed", "submission.released",
        "submission.claimed", "comment.added",
    ]  # fmt: skip
    stored = await conn.fetch("SELECT details::text AS d FROM audit_event")
    assert not any("在籍証明" in r["d"] or "山田" in r["d"] for r in stored)  # no personal data, no note text


def test_the_documented_table_is_the_table() -> None:
    documented = (Path(__file__).parents[2] / "docs" / "workflow.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| `(\w+)` \|", documented, flags=re.MULTILINE)
    assert {(status, action): after for status, action, after in rows} == workflow.STEPS
    assert len(rows) == len(workflow.STEPS)
