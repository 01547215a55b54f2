"""The trust core under real timing: current CRLs pass, confirmation follows, OCSP at intake, CAdES-T.

The CRL the agency uploaded was issued before every nonce here, as it is in production; the TSA and
the OCSP responder are the test PKI's own, over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from asn1crypto import cms, pem
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from service.submissions.reverify import reverify_pending
from service.trust.service import Verifiers
from signing.timestamps import signature_value
from tests import pki
from tests.api.conftest import arrange
from tests.api.test_bundle import run_readme, trust_files, verify_bundle
from tests.api.test_queue import clerk
from tests.api.test_review import agency_root, bearer, decide, view
from tests.api.test_submissions import PDF, add_ocsp, document, new_nonce, parts
from tests.conftest import Tokens
from tests.pki import services

Client = AsyncTestClient[Litestar]


async def send(client: Client, label: str = "applicant") -> dict[str, Any]:
    nonce = await new_nonce(client)
    doc = document(nonce)
    response = await client.post("/api/v1/submissions", files=parts(doc, [pki.sign_openssl(label, doc)], [PDF]))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_valid_card_with_the_current_crl_passes_is_approved_and_confirmed_later(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    submitted = await send(client)
    verification = submitted["verification"]
    assert (verification["status"], verification["indication"], verification["confirmed"]) == (
        "passed", "TOTAL_PASSED", False,
    )  # fmt: skip
    assert submitted["flags"] == ["revocation_unconfirmed"]
    _, header = await clerk(conn)
    listed = (await client.get("/api/v1/queue", params={"flag": "revocation_unconfirmed"}, headers=header)).json()
    assert [i["id"] for i in listed["items"]] == [submitted["submission_id"]]
    staff, etag = await view(client, submitted, header)
    [signature] = staff["revisions"][0]["signatures"]
    revocation = signature["report"]["revocation"]
    assert (revocation["kind"], revocation["confirmed"]) == ("crl", False)
    assert (await client.post("/api/v1/queue/claim", headers=header)).status_code == 200
    _, etag = await view(client, submitted, header)
    approved = await decide(client, submitted, header, etag, "approve")
    assert approved.status_code == 200, approved.text  # no waiting for a CRL issued after the nonce

    await add_ocsp(conn, "applicant")  # revocation data issued after the signature
    async with conn.transaction():
        outcome = await reverify_pending(conn, await Verifiers().current(conn), dt.datetime.now(dt.UTC))
    assert outcome == {"passed": 0, "pending": 0, "failed": 0, "confirmed": 1}
    mine = (await client.get(submitted["links"]["self"], headers=bearer(submitted))).json()
    assert mine["revisions"][0]["verification"]["confirmed"] is True
    assert mine["timeline"][-1]["kind"] == "signature_confirmed"
    staff, _ = await view(client, submitted, header)
    [signature] = staff["revisions"][0]["signatures"]
    revocation = signature["report"]["revocation"]
    assert (revocation["kind"], revocation["confirmed"]) == ("ocsp", True)
    actions = await conn.fetch("SELECT action FROM audit_event WHERE subject = $1", submitted["submission_id"])
    assert "submission.signature_confirmed" in {a["action"] for a in actions}


@pytest.fixture
def pki_services() -> Iterator[services.PKIServices]:
    with services.serve() as running:
        yield running


async def test_confirmation_required_asks_the_responder_at_intake(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, pki_services: services.PKIServices
) -> None:
    await conn.execute("UPDATE procedure SET revocation = 'confirmed' WHERE id = 'mhlw-36-agreement'")
    await conn.execute("UPDATE trust_anchor SET ocsp_url = $1", pki_services.ocsp_url)
    confirmed = await send(client)
    assert (confirmed["verification"]["status"], confirmed["verification"]["confirmed"]) == ("passed", True), (
        pki_services.requests
    )
    assert confirmed["flags"] == [] and pki_services.requests == ["/ocsp"]
    stored = await conn.fetchval("SELECT count(*) FROM trust_ocsp")
    assert stored == 1  # the answer is evidence: the bundle carries it

    # No responder: the application waits, as pending, and cannot be approved yet.
    await conn.execute("UPDATE trust_anchor SET ocsp_url = NULL")
    await conn.execute("DELETE FROM trust_ocsp")
    waiting = await send(client)
    assert (waiting["verification"]["status"], waiting["flags"]) == ("pending", ["verification_pending"])
    _, header = await clerk(conn)
    claims = [(await client.post("/api/v1/queue/claim", headers=header)).json()["id"] for _ in range(2)]
    assert claims == [confirmed["submission_id"], waiting["submission_id"]]
    _, etag = await view(client, waiting, header)
    refused = await decide(client, waiting, header, etag, "approve")
    assert (refused.status_code, refused.json().get("verification")) == (409, "pending"), refused.text
    await add_ocsp(conn, "applicant")
    async with conn.transaction():
        outcome = await reverify_pending(conn, await Verifiers().current(conn), dt.datetime.now(dt.UTC))
    assert outcome == {"passed": 1, "pending": 0, "failed": 0, "confirmed": 1}


@pytest.fixture
async def stamped(
    settings: Settings, pki_services: services.PKIServices
) -> AsyncIterator[tuple[Client, services.PKIServices]]:
    app = create_app(msgspec.structs.replace(settings, tsa_url=pki_services.tsa_url))
    async with AsyncTestClient(app) as test_client:
        yield test_client, pki_services


def openssl_ts_verify(tmp_path: Path, token: bytes, data: bytes) -> subprocess.CompletedProcess[str]:
    (tmp_path / "token.der").write_bytes(token)
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "root.pem").write_bytes(pem.armor("CERTIFICATE", pki.cert("agency-root").dump()))
    command = ["openssl", "ts", "-verify", "-token_in", "-in", str(tmp_path / "token.der")]
    command += ["-data", str(tmp_path / "data.bin"), "-CAfile", str(tmp_path / "root.pem")]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def embedded_token(signature: bytes) -> bytes:
    """The signature-time-stamp token inside a CMS's unsigned attributes (CAdES-T)."""
    signer_info = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    [token] = [
        a["values"][0] for a in signer_info["unsigned_attrs"] if a["type"].native == "signature_time_stamp_token"
    ]
    return bytes(token.dump())


async def test_with_a_tsa_receipts_notices_and_signatures_carry_tokens_openssl_accepts(
    stamped: tuple[Client, services.PKIServices],
    tokens: Tokens,
    conn: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    client, running = stamped
    await arrange(client, tokens)
    submitted = await send(client)
    row = await conn.fetchrow(
        "SELECT g.cms, g.timestamp_token, r.receipt_cms"
        " FROM revision_signature g JOIN revision r ON r.id = g.revision_id"
    )
    assert row["timestamp_token"] is not None
    applicant = openssl_ts_verify(tmp_path, row["timestamp_token"], signature_value(row["cms"]))
    assert applicant.returncode == 0, applicant.stdout + applicant.stderr
    receipt = openssl_ts_verify(tmp_path, embedded_token(row["receipt_cms"]), signature_value(row["receipt_cms"]))
    assert receipt.returncode == 0, receipt.stdout + receipt.stderr
    # A token over other bytes is refused by the same command: the check can fail.
    wrong = openssl_ts_verify(tmp_path, row["timestamp_token"], signature_value(row["receipt_cms"]))
    assert wrong.returncode != 0

    await add_ocsp(conn, "applicant")
    _, header = await clerk(conn)
    assert (await client.post("/api/v1/queue/claim", headers=header)).status_code == 200
    _, etag = await view(client, submitted, header)
    decided = await decide(client, submitted, header, etag, "approve")
    assert decided.status_code == 200, decided.text
    notice_cms = await conn.fetchval("SELECT notice_cms FROM decision")
    notice = openssl_ts_verify(tmp_path, embedded_token(notice_cms), signature_value(notice_cms))
    assert notice.returncode == 0, notice.stdout + notice.stderr
    assert running.requests.count("/tsa") == 3


async def test_a_silent_tsa_is_a_503_and_nothing_is_kept(
    settings: Settings, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    app = create_app(msgspec.structs.replace(settings, tsa_url="http://127.0.0.1:9/tsa", tsa_timeout_seconds=1))
    async with AsyncTestClient(app) as client:
        nonce = await new_nonce(client)
        doc = document(nonce)
        response = await client.post(
            "/api/v1/submissions", files=parts(doc, [pki.sign_openssl("applicant", doc)], [PDF])
        )
    assert response.status_code == 503 and response.headers["retry-after"]
    assert response.json()["type"].endswith("/service-unavailable")
    assert await conn.fetchval("SELECT count(*) FROM revision") == 0
    assert await conn.fetchval("SELECT consumed_at FROM nonce WHERE nonce = $1", nonce) is None


async def test_bundle_of_a_crl_verdict_checks_by_its_readme_on_openssl_3(
    client: Client, app: Litestar, admin: dict[str, str], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """The usual case: the verdict used the agency's current CRL; every README command runs as written."""
    submitted = await send(client)
    archive = tmp_path / "bundle.zip"
    archive.write_bytes((await client.get(submitted["links"]["bundle"], headers=bearer(submitted))).content)
    with zipfile.ZipFile(archive) as opened:
        assert any(n.endswith(".crl.pem") for n in opened.namelist())
        opened.extractall(tmp_path / "unpacked")
    ca, root = trust_files(tmp_path, app)
    results = await asyncio.to_thread(run_readme, tmp_path / "unpacked", ca, root)
    assert [c.split()[0] for c, _ in results][:2] == ["cat", "openssl"]
    assert any("-crl_check" in c for c, _ in results)
    for command, result in results:
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    code, report = await asyncio.to_thread(verify_bundle, archive, ca, root)
    assert code == 0, report
    # Without the CRL in the CA file the same command fails: -crl_check reads the appended CRL.
    crl = next((tmp_path / "unpacked" / "revision-1").rglob("*.crl.pem"))
    crl.write_bytes(b"")  # no CRL at all: -crl_check must fail
    results = await asyncio.to_thread(run_readme, tmp_path / "unpacked", ca, root)
    assert any(r.returncode != 0 for c, r in results if "-crl_check" in c)


async def test_bundle_carries_the_signature_time_stamp_and_the_checker_verifies_it(
    stamped: tuple[Client, services.PKIServices], tokens: Tokens, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    client, _ = stamped
    await arrange(client, tokens)
    submitted = await send(client)
    archive = tmp_path / "bundle.zip"
    archive.write_bytes((await client.get(submitted["links"]["bundle"], headers=bearer(submitted))).content)
    with zipfile.ZipFile(archive) as opened:
        names = set(opened.namelist())
        opened.extractall(tmp_path / "unpacked")
    assert {"revision-1/signature-1.tst", "revision-1/signature-1.signature-value.bin"} <= names
    ca = tmp_path / "jlis.pem"
    ca.write_bytes(pem.armor("CERTIFICATE", pki.cert("jlis-root-gen2").dump()))
    root = tmp_path / "agency-root.pem"  # the test PKI's TSA is under the test agency root
    root.write_bytes(pem.armor("CERTIFICATE", pki.cert("agency-root").dump()))
    receipt_root = tmp_path / "receipt-root.pem"
    receipt_root.write_bytes(pem.armor("CERTIFICATE", agency_root(client.app).dump()))
    code, report = await asyncio.to_thread(verify_bundle, archive, ca, root, receipt_root)
    assert code == 0, report
    stamp = next(f for f in report["findings"] if f["item"] == "revision 1 signature 1 time-stamp")
    assert stamp["outcome"] == "ok" and "existed at" in stamp["detail"]
    results = await asyncio.to_thread(run_readme, tmp_path / "unpacked", ca, receipt_root, root)
    assert any(c.startswith("openssl ts -verify") for c, _ in results)
    for command, result in results:
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    # Without the TSA's root the token proves nothing, and the checker says so.
    code, report = await asyncio.to_thread(verify_bundle, archive, ca, receipt_root)
    stamp = next(f for f in report["findings"] if f["item"] == "revision 1 signature 1 time-stamp")
    assert code == 1 and stamp["outcome"] == "failed"


async def test_test_cards_count_only_in_development_and_are_marked(
    settings: Settings, tokens: Tokens, conn: asyncpg.Connection
) -> None:
    development = create_app(msgspec.structs.replace(settings, env="development"))
    async with AsyncTestClient(development) as client:
        header = await arrange(client, tokens)
        anchor = {
            "class": "jpki",
            "test": True,
            "certificate": pem.armor("CERTIFICATE", pki.cert("jlis-test-root").dump()).decode(),
        }
        assert (await client.post("/api/v1/trust/anchors", json=anchor, headers=header)).status_code == 201
        crl = pem.armor("X509 CRL", pki.crl("jlis-test", dt.datetime.now(dt.UTC)).dump()).decode()
        assert (await client.post("/api/v1/trust/crls", json={"crl": crl}, headers=header)).status_code == 201
        nonce = await new_nonce(client)
        doc = document(nonce, applicant_name="試験 太郎")
        response = await client.post(
            "/api/v1/submissions", files=parts(doc, [pki.sign_openssl("test-card-applicant", doc)], [PDF])
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["verification"]["indication"], body["verification"]["test"]) == ("TOTAL_PASSED", True)
        assert "test_signature" in body["flags"]
        receipt = (await client.get(body["links"]["receipt"], headers=bearer(body))).json()
        assert receipt["test"] is True
        _, staff = await clerk(conn)
        listed = (await client.get("/api/v1/queue", params={"flag": "test_signature"}, headers=staff)).json()
        assert [i["id"] for i in listed["items"]] == [body["submission_id"]]
    production = create_app(settings)
    async with AsyncTestClient(production) as client:
        nonce = await new_nonce(client)
        doc = document(nonce, applicant_name="試験 太郎")
        response = await client.post(
            "/api/v1/submissions", files=parts(doc, [pki.sign_openssl("test-card-applicant", doc)], [PDF])
        )
        assert response.status_code == 422, response.text
        assert response.json()["reports"][0]["sub_indication"] == "CHAIN_CONSTRAINTS_FAILURE"
