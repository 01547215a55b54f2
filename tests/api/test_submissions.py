"""Intake end to end through HTTP, with real signatures, real CRLs and OCSP answers, a real database."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
from typing import Any

import asyncpg
import msgspec
from asn1crypto import pem
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

from service.submissions.reverify import reverify_pending
from service.trust import queries as trust_queries
from service.trust.service import Verifiers
from signing.receipts import verify_receipt
from signing.trust import TrustStore, ocsp_request
from tests import pki
from tests.pdf import page_text, unwrapped


def blank_pdf() -> bytes:
    writer = PdfFileWriter()
    writer.insert_page(
        PageObject(contents=writer.add_object(generic.StreamObject(stream_data=b"")), media_box=(0, 0, 595, 842))
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = blank_pdf()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def add_ocsp(conn: asyncpg.Connection, label: str) -> None:
    """An OCSP answer about ``label`` produced now (after any nonce issued so far)."""
    responder = pki.arch().service_registry.summon_responder("jlis-gen2", at_time=now())
    response = responder.build_ocsp_response(ocsp_request(pki.cert(label), pki.cert("jlis-root-gen2")))
    [info] = TrustStore([pki.anchors()[1]]).add_ocsp(response)
    await trust_queries.insert_ocsp(
        conn, info.issuer_key_id, info.serial, response.dump(), bytes.fromhex(info.sha256), info.status,
        info.produced_at, info.this_update, info.next_update,
    )  # fmt: skip


async def new_nonce(client: AsyncTestClient[Litestar], form: str = "t-overtime") -> str:
    response = await client.post(f"/api/v1/forms/{form}/versions/1/nonces")
    assert response.status_code == 201, response.text
    nonce: str = response.json()["nonce"]
    return nonce


def document(nonce: str, form: str = "t-overtime", pdf: bytes = PDF, **answers: Any) -> bytes:
    answers = {
        "applicant_name": "山田 太郎",
        "workers": 12,
        "agreement": {
            "filename": "協定書.pdf",
            "media_type": "application/pdf",
            "size": len(pdf),
            "sha256": hashlib.sha256(pdf).hexdigest(),
        },
    } | answers
    return msgspec.json.encode({"form_id": form, "form_version": 1, "nonce": nonce, "answers": answers})


def parts(doc: bytes, signatures: list[bytes], attachments: list[bytes] | None = None) -> list[tuple[str, Any]]:
    files: list[tuple[str, Any]] = [("document", ("document.json", doc, "application/json"))]
    files += [("signature", (f"s{i}.p7s", s, "application/pkcs7-signature")) for i, s in enumerate(signatures)]
    files += [
        ("attachment", (f"a{i}.pdf", a, "application/pdf"))
        for i, a in enumerate([PDF] if attachments is None else attachments)
    ]
    return files


async def count(conn: asyncpg.Connection) -> tuple[int, ...]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM submission), (SELECT count(*) FROM revision),"
        " (SELECT count(*) FROM revision_signature), (SELECT count(*) FROM attachment)"
    )
    assert row is not None
    return tuple(row)


async def test_success_with_attachment_and_receipts(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    nonce = await new_nonce(client)
    doc = document(nonce)
    await add_ocsp(conn, "applicant")
    signature = await asyncio.to_thread(pki.sign_pyhanko, "applicant", doc)
    response = await client.post("/api/v1/submissions", files=parts(doc, [signature]))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["receipt_number"] == f"MHLW-{now().year}-000001"
    assert (body["status"], body["revision"], body["flags"]) == ("received", 1, [])
    assert body["verification"]["status"] == "passed"
    assert body["verification"]["signers"][0]["name"] == "山田 太郎"
    token = {"Authorization": f"Bearer {body['access_token']}"}
    view = (await client.get(body["links"]["self"], headers=token)).json()
    assert [e["kind"] for e in view["timeline"]] == ["received"]
    assert (await client.get(body["links"]["self"])).status_code == 401
    assert (await client.get(body["links"]["self"], headers={"Authorization": "Bearer sbm_wrong"})).status_code == 404

    receipt = (await client.get(body["links"]["receipt"], headers=token)).content
    receipt_cms = (await client.get(body["links"]["receipt_signature"], headers=token)).content
    chain = (await client.get("/api/v1/receipts/certificate")).content
    root = [pki.x509.Certificate.load(der) for _, _, der in pem.unarmor(chain, multiple=True)][-1]
    assert verify_receipt(receipt, receipt_cms, [root]).passed
    facts = msgspec.json.decode(receipt)
    assert facts["document_sha256"] == hashlib.sha256(doc).hexdigest()
    assert facts["attachments"] == [
        {"field": "agreement", "filename": "協定書.pdf", "sha256": hashlib.sha256(PDF).hexdigest()}
    ]
    assert facts["signatures_sha256"] == [hashlib.sha256(signature).hexdigest()]
    pdf = await client.get(body["links"]["receipt_pdf"], headers=token)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = unwrapped(page_text(pdf.content))
    for expected in (
        "手続 Procedure: 時間外労働・休日労働に関する協定届（36協定届）",  # from the catalogue
        "申請者 Applicant: 山田 太郎",  # as the card's certificate names the holder
        "厚生労働省 (MHLW)",
        "署名を確認しました / Signature verified",
        f"{facts['receipt_number']}",
        hashlib.sha256(doc).hexdigest(),
        "協定書.pdf",
        hashlib.sha256(PDF).hexdigest(),
        body["links"]["receipt"],
        body["links"]["receipt_signature"],
        "/api/v1/receipts/certificate",  # where the chain is, as fetched above
        "shinsei verify-receipt receipt.json receipt.p7s --trust chain.pem",
    ):
        assert expected in text, expected
    assert "試験用" not in text
    stored = await conn.fetchval("SELECT content FROM attachment")
    assert stored == PDF
    assert await count(conn) == (1, 1, 1, 1)


async def test_rejections_store_nothing(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    nonce = await new_nonce(client)
    bad = document(nonce, workers=0)
    response = await client.post("/api/v1/submissions", files=parts(bad, [pki.sign_openssl("applicant", bad)]))
    assert (response.status_code, response.json()["type"].rsplit("/", 1)[1]) == (422, "form-invalid")
    assert response.json()["errors"] == [
        {"code": "min", "detail": "Expected `int` >= 1", "pointer": "/answers/workers"}
    ]

    doc = document(nonce)
    revoked = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("revoked-applicant", doc)]))
    assert revoked.status_code == 422
    problem = revoked.json()
    assert problem["type"].endswith("/signature-rejected")
    assert problem["reports"][0]["sub_indication"] == "REVOKED"
    unsigned = await client.post("/api/v1/submissions", files=parts(doc, []))
    assert unsigned.json()["type"].endswith("/signature-rejected")
    other_pdf = PDF + b"\n%junk"
    mismatch = await client.post(
        "/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)], [other_pdf])
    )
    assert [(e["pointer"], e["code"]) for e in mismatch.json()["errors"]] == [
        ("/answers/agreement", "attachment_missing"),
        ("", "attachment_extra"),
    ]
    assert await count(conn) == (0, 0, 0, 0)
    # The nonce was not consumed by any failure: the applicant can still use it.
    assert await conn.fetchval("SELECT consumed_at FROM nonce WHERE nonce = $1", nonce) is None


async def test_nonce_duplicate_and_idempotency(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    nonce = await new_nonce(client)
    doc = document(nonce)
    signature = pki.sign_openssl("applicant", doc)
    key = {"Idempotency-Key": "7d3f-retry-1"}
    first = await client.post("/api/v1/submissions", files=parts(doc, [signature]), headers=key)
    assert first.status_code == 201, first.text
    again = await client.post("/api/v1/submissions", files=parts(doc, [signature]), headers=key)
    assert (again.status_code, again.json()) == (201, first.json())
    other = await client.post(
        "/api/v1/submissions", files=parts(doc, [pki.sign_pyhanko_sync("applicant", doc)]), headers=key
    )
    assert other.json()["type"].endswith("/idempotency-mismatch")
    duplicate = await client.post("/api/v1/submissions", files=parts(doc, [signature]))
    assert duplicate.status_code == 409
    assert duplicate.json()["links"]["original"] == first.json()["links"]["self"]
    reused = document(nonce, workers=13)
    response = await client.post("/api/v1/submissions", files=parts(reused, [pki.sign_openssl("applicant", reused)]))
    assert (response.status_code, response.json()["type"].rsplit("/", 1)[1]) == (409, "nonce-invalid")
    expired = await new_nonce(client)
    await conn.execute(
        "UPDATE nonce SET issued_at = issued_at - interval '2 days', expires_at = now() - interval '1 day'"
        " WHERE nonce = $1",
        expired,
    )
    late = document(expired)
    response = await client.post("/api/v1/submissions", files=parts(late, [pki.sign_openssl("applicant", late)]))
    assert response.status_code == 409
    assert await count(conn) == (1, 1, 1, 1)


async def test_try_later_then_reverification_both_ways(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    await conn.execute("DELETE FROM trust_crl")  # no revocation data at all: every signature waits
    submitted = {}
    for label in ("applicant", "revoked-applicant"):
        nonce = await new_nonce(client)
        doc = document(nonce)
        response = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl(label, doc)]))
        assert response.status_code == 201, response.text
        assert response.json()["verification"]["status"] == "pending"
        assert "verification_pending" in response.json()["flags"]
        submitted[label] = response.json()
    verifiers = Verifiers()
    async with conn.transaction():
        assert await reverify_pending(conn, await verifiers.current(conn), now()) == {
            "passed": 0,
            "pending": 2,
            "failed": 0,
            "confirmed": 0,
        }
    await add_ocsp(conn, "applicant")
    await add_ocsp(conn, "revoked-applicant")
    async with conn.transaction():
        assert await reverify_pending(conn, await verifiers.current(conn), now()) == {
            "passed": 1,
            "pending": 0,
            "failed": 1,
            "confirmed": 1,  # an OCSP answer given after the signature: passed and confirmed at once
        }
    good = submitted["applicant"]
    view = (await client.get(good["links"]["self"], headers={"Authorization": f"Bearer {good['access_token']}"})).json()
    assert (view["status"], view["revisions"][0]["verification"]["status"]) == ("received", "passed")
    assert [e["kind"] for e in view["timeline"]] == [
        "received", "verification_pending", "verification_passed", "signature_confirmed",
    ]  # fmt: skip
    bad = submitted["revoked-applicant"]
    view = (await client.get(bad["links"]["self"], headers={"Authorization": f"Bearer {bad['access_token']}"})).json()
    assert view["status"] == "signature_invalid"
    assert view["timeline"][-1]["kind"] == "signature_invalid"
    # One statement wrote the batch: the flags, the move and the audit events with it.
    flags = await conn.fetchval("SELECT flags FROM submission WHERE id = $1", good["submission_id"])
    assert "verification_pending" not in flags
    audited = await conn.fetch("SELECT action, subject, details FROM audit_event WHERE actor = 'system' ORDER BY seq")
    assert [(a["action"], a["subject"]) for a in audited] == [
        ("submission.verification_passed", good["submission_id"]),
        ("submission.signature_confirmed", good["submission_id"]),
        ("submission.signature_invalid", bad["submission_id"]),
    ]
    assert audited[2]["details"] == {"from": "received", "to": "signature_invalid"}


async def test_amendment_chain(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    nonce = await new_nonce(client)
    doc = document(nonce)
    first = (await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)]))).json()
    token = {"Authorization": f"Bearer {first['access_token']}"}
    amendment = msgspec.json.encode(
        msgspec.json.decode(document(await new_nonce(client), workers=20))
        | {"amends": {"submission_id": first["submission_id"], "document_sha256": hashlib.sha256(doc).hexdigest()}}
    )
    early = await client.post("/api/v1/submissions", files=parts(amendment, [pki.sign_openssl("applicant", amendment)]))
    assert (early.status_code, early.json()["current_state"]) == (409, "received")
    await conn.execute("UPDATE submission SET status = 'correction_requested' WHERE id = $1", first["submission_id"])
    amended = await client.post(
        "/api/v1/submissions", files=parts(amendment, [pki.sign_openssl("applicant", amendment)])
    )
    assert amended.status_code == 201, amended.text
    assert (amended.json()["submission_id"], amended.json()["revision"]) == (first["submission_id"], 2)
    assert amended.json()["receipt_number"] != first["receipt_number"]
    view = (await client.get(first["links"]["self"], headers=token)).json()
    assert [r["number"] for r in view["revisions"]] == [1, 2]
    lifecycle = [e["kind"] for e in view["timeline"] if not e["kind"].startswith("verification")]
    assert lifecycle == ["received", "amended"]


async def test_withdrawal(client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection) -> None:
    nonce = await new_nonce(client)
    doc = document(nonce)
    first = (await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)]))).json()
    token = {"Authorization": f"Bearer {first['access_token']}"}

    async def withdrawal(label: str) -> Any:
        nonce = (await client.post(f"{first['links']['self']}/nonces", headers=token)).json()["nonce"]
        request = msgspec.json.encode(
            {
                "action": "withdraw",
                "submission_id": first["submission_id"],
                "nonce": nonce,
                "reason": "重複して提出したため",
            }
        )
        files = [
            ("document", ("w.json", request, "application/json")),
            ("signature", ("w.p7s", pki.sign_openssl(label, request), "application/pkcs7-signature")),
        ]
        return await client.post(f"{first['links']['self']}/withdraw", files=files, headers=token)

    stranger = await withdrawal("second-applicant")
    assert (stranger.status_code, stranger.json()["type"].rsplit("/", 1)[1]) == (422, "signature-rejected")
    renewed = await withdrawal("applicant-renewed")  # same person (name, birth date), new certificate, new address
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["status"] == "withdrawn"
    assert renewed.json()["timeline"][-1] == renewed.json()["timeline"][-1] | {
        "kind": "withdrawn",
        "message": "重複して提出したため",
    }
    again = await withdrawal("applicant")
    assert (again.status_code, again.json()["current_state"]) == (409, "withdrawn")


async def test_two_signers_and_qualified_policy(client: AsyncTestClient[Litestar], admin: dict[str, str]) -> None:
    nonce = await new_nonce(client, "t-two")
    doc = document(nonce, form="t-two")
    one = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)]))
    assert one.status_code == 422
    assert one.json()["detail"] == "This form needs 2 different signers; 1 signed."
    same_twice = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)] * 2))
    assert same_twice.status_code == 422
    both = await client.post(
        "/api/v1/submissions",
        files=parts(doc, [pki.sign_openssl("applicant", doc), pki.sign_openssl("second-applicant", doc)]),
    )
    assert both.status_code == 201, both.text
    assert len(both.json()["verification"]["signers"]) == 2

    nonce = await new_nonce(client, "t-seal")
    doc = document(nonce, form="t-seal")
    accredited = await client.post(
        "/api/v1/submissions", files=parts(doc, [pki.sign_openssl("accredited-signer", doc)])
    )
    assert accredited.status_code == 422
    assert accredited.json()["reports"][0]["sub_indication"] == "CHAIN_CONSTRAINTS_FAILURE"


async def test_identity_mismatch_is_flagged(client: AsyncTestClient[Litestar], admin: dict[str, str]) -> None:
    nonce = await new_nonce(client)
    doc = document(nonce, applicant_name="山田　花子")
    response = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)]))
    assert response.status_code == 201
    assert "identity_mismatch" in response.json()["flags"]
    fullwidth = document(await new_nonce(client), applicant_name="山田　太郎")  # NFKC and spaces fold away
    response = await client.post(
        "/api/v1/submissions", files=parts(fullwidth, [pki.sign_openssl("applicant", fullwidth)])
    )
    assert "identity_mismatch" not in response.json()["flags"]


async def test_oversize(client: AsyncTestClient[Litestar], admin: dict[str, str]) -> None:
    nonce = await new_nonce(client)
    doc = document(nonce, applicant_name="x" * 1_100_000)
    response = await client.post("/api/v1/submissions", files=parts(doc, [b"sig"]))
    assert (response.status_code, response.json()["type"].rsplit("/", 1)[1]) == (413, "too-large")
    assert "document part" in response.json()["detail"]
    huge = b"%PDF-" + b"0" * (21 * 1_048_576)
    response = await client.post("/api/v1/submissions", files=parts(document(nonce), [b"sig"], [huge]))
    assert response.status_code == 413


async def test_a_signed_pdf_attachment_is_validated_and_reported(
    client: AsyncTestClient[Litestar], admin: dict[str, str], conn: asyncpg.Connection, data_dir: Any
) -> None:
    from signing.devca import development_receipt_key
    from signing.fonts import Typeface
    from signing.receipt_pdf import render_pdf
    from tests.signing.test_receipts import PRESENTATION, RECEIPT

    key = development_receipt_key(data_dir / "receipts")
    signed_pdf = await render_pdf(RECEIPT, PRESENTATION, key.signer, Typeface(data_dir / "fonts"))  # any PAdES will do
    nonce = await new_nonce(client)
    doc = document(nonce, pdf=signed_pdf)
    response = await client.post(
        "/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)], [signed_pdf])
    )
    assert response.status_code == 201, response.text
    report = await conn.fetchval("SELECT report FROM attachment")
    assert len(report) == 1
    assert (report[0]["intact"], report[0]["valid"], report[0]["trusted"]) == (True, True, False)  # not our anchor


def exact(response: Any) -> dict[str, Any]:
    """The problem body with its random instance checked and removed."""
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.pop("instance").startswith("urn:uuid:")
    return body


async def test_rejection_bodies_exactly(client: AsyncTestClient[Litestar], admin: dict[str, str]) -> None:
    base = "https://shinsei.example/problems/"
    nonce = await new_nonce(client)
    doc = document(nonce)
    signature = pki.sign_openssl("applicant", doc)
    first = await client.post("/api/v1/submissions", files=parts(doc, [signature]))
    assert first.status_code == 201
    assert exact(await client.post("/api/v1/submissions", files=parts(doc, [signature]))) == {
        "type": base + "duplicate-submission",
        "title": "These exact document bytes were already submitted.",
        "status": 409,
        "detail": "These exact document bytes were already submitted.",
        "links": {"original": first.json()["links"]["self"]},
    }
    reused = document(nonce, workers=99)
    assert exact(
        await client.post("/api/v1/submissions", files=parts(reused, [pki.sign_openssl("applicant", reused)]))
    ) == {
        "type": base + "nonce-invalid",
        "title": "The nonce is used, expired or not for this form version.",
        "status": 409,
        "detail": "The nonce in the document is unknown, already used, expired, or for another form version.",
    }
    fresh = document(await new_nonce(client))
    body = exact(
        await client.post("/api/v1/submissions", files=parts(fresh, [pki.sign_openssl("forged-applicant", fresh)]))
    )
    reports = body.pop("reports")
    assert body == {
        "type": base + "signature-rejected",
        "title": "The signatures do not meet the procedure's requirements.",
        "status": 422,
        "detail": "1 of 1 signature(s) cannot be accepted: NO_CERTIFICATE_CHAIN_FOUND.",
    }
    assert [(r["indication"], r["sub_indication"]) for r in reports] == [
        ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    ]
    assert exact(
        await client.post("/api/v1/submissions", content=b"{}", headers={"Content-Type": "application/json"})
    ) == {
        "type": base + "unsupported-media-type",
        "title": "The request body's media type is not supported.",
        "status": 415,
        "detail": "Send a submission as multipart/form-data with document, signature and attachment parts.",
    }
    unknown = msgspec.json.encode({"form_id": "nope", "form_version": 1, "nonce": "n" * 22, "answers": {}})
    assert exact(await client.post("/api/v1/submissions", files=parts(unknown, [b"x"]))) == {
        "type": base + "form-invalid",
        "title": "The form answers are not valid.",
        "status": 422,
        "detail": "1 field needs attention.",
        "errors": [{"code": "unknown_form", "detail": "no such published form version", "pointer": "/form_id"}],
    }
