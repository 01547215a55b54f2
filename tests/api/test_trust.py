"""Trust administration over HTTP, the verifier built from the database, and CRL refresh over HTTP."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from asn1crypto import ocsp, pem, x509
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from service.trust.service import Verifiers
from signing.receipt_keys import ReceiptKey
from signing.receipt_pdf import render_pdf
from signing.receipts import sign_receipt, verify_receipt
from signing.verify import Bounds, Policy
from tests import pki
from tests.api.test_problems import BASE, problem
from tests.conftest import Tokens
from tests.pki import softhsm
from tests.signing.test_receipts import PRESENTATION, RECEIPT


def pem_of(label: str) -> str:
    return pem.armor("CERTIFICATE", pki.cert(label).dump()).decode()


def crl_pem(repo: str) -> str:
    return pem.armor("X509 CRL", pki.crl(repo).dump()).decode()


async def test_anchors_certificates_and_crls(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    admin = await tokens.header("admin")
    added = await client.post(
        "/api/v1/trust/anchors", json={"class": "jpki", "certificate": pem_of("jlis-root-gen2")}, headers=admin
    )
    assert added.status_code == 201, added.text
    assert (added.json()["class"], added.json()["test"]) == ("jpki", False)
    again = await client.post(
        "/api/v1/trust/anchors", json={"class": "jpki", "certificate": pem_of("jlis-root-gen2")}, headers=admin
    )
    assert again.status_code == 409
    leaf = await client.post(
        "/api/v1/trust/anchors", json={"class": "jpki", "certificate": pem_of("applicant")}, headers=admin
    )
    assert (leaf.status_code, leaf.json()["errors"][0]["code"]) == (422, "not_ca")
    junk = await client.post(
        "/api/v1/trust/anchors", json={"class": "jpki", "certificate": "not a cert"}, headers=admin
    )
    assert (junk.status_code, junk.json()["errors"][0]["pointer"]) == (422, "/certificate")

    crl = await client.post("/api/v1/trust/crls", json={"crl": crl_pem("jlis-gen2")}, headers=admin)
    assert crl.status_code == 201, crl.text
    assert (crl.json()["revoked_count"], crl.json()["this_update"]) == (1, "2026-11-27T00:00:00Z")
    # The gen1 CRL needs a gen1 key: refused until the rollover certificate is stored.
    der = {"Content-Type": "application/pkix-crl"}
    refused = await client.post("/api/v1/trust/crls", content=pki.crl("jlis-gen1").dump(), headers=admin | der)
    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (422, "crl_rejected")
    link = await client.post(
        "/api/v1/trust/certificates", json={"certificate": pem_of("jlis-link-old-with-new")}, headers=admin
    )
    assert link.status_code == 201
    accepted = await client.post("/api/v1/trust/crls", content=pki.crl("jlis-gen1").dump(), headers=admin | der)
    assert accepted.status_code == 201, accepted.text
    assert (
        await client.post("/api/v1/trust/crls", content=pki.crl("jlis-gen1").dump(), headers=admin | der)
    ).status_code == 409
    wrong_type = await client.post("/api/v1/trust/crls", content=b"x", headers=admin | {"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415

    anchors = (await client.get("/api/v1/trust/anchors", headers=admin)).json()["items"]
    assert [a["subject"] for a in anchors] == [pki.cert("jlis-root-gen2").subject.human_friendly]
    assert len((await client.get("/api/v1/trust/crls", headers=admin)).json()["items"]) == 2
    assert (await client.delete(f"/api/v1/trust/anchors/{anchors[0]['id']}", headers=admin)).status_code == 204


async def test_only_admins(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    clerk = await tokens.header("clerk", "MHLW")
    assert (await client.get("/api/v1/trust/anchors", headers=clerk)).status_code == 403
    assert (await client.get("/api/v1/trust/anchors")).status_code == 401


async def test_test_anchors_only_in_development(
    settings: Settings, client: AsyncTestClient[Litestar], tokens: Tokens
) -> None:
    admin = await tokens.header("admin")
    test_anchor = {"class": "jpki", "certificate": pem_of("jlis-test-root"), "test": True}
    refused = await client.post("/api/v1/trust/anchors", json=test_anchor, headers=admin)  # settings: production
    assert problem(refused, 422) == {
        "type": BASE + "validation",
        "title": "The request body is not valid.",
        "status": 422,
        "detail": "Test anchors are accepted only in development mode (SHINSEI_ENV=development).",
        "errors": [
            {
                "pointer": "/test",
                "code": "test_anchor_refused",
                "detail": "test anchors are accepted only in development mode (SHINSEI_ENV=development)",
            }
        ],
    }
    assert (await client.get("/api/v1/trust/anchors", headers=admin)).json()["items"] == []
    async with AsyncTestClient(create_app(msgspec.structs.replace(settings, env="development"))) as development:
        added = await development.post("/api/v1/trust/anchors", json=test_anchor, headers=admin)
    assert added.status_code == 201, added.text
    assert (added.json()["class"], added.json()["test"]) == ("jpki", True)


async def test_verifier_follows_the_database(
    conn: asyncpg.Connection, client: AsyncTestClient[Litestar], tokens: Tokens
) -> None:
    admin = await tokens.header("admin")
    await client.post(
        "/api/v1/trust/anchors", json={"class": "jpki", "certificate": pem_of("jlis-root-gen2")}, headers=admin
    )
    verifiers = Verifiers()
    document = b'{"form_id":"x","form_version":1,"answers":{}}'
    signature = pki.sign_openssl("applicant", document)
    policy, bounds = Policy(classes=frozenset({"jpki"})), Bounds(validation_time=pki.NOW)
    first = await verifiers.current(conn)
    assert first.verify(document, signature, policy, bounds).sub_indication == "TRY_LATER"  # no CRL yet
    await client.post("/api/v1/trust/crls", json={"crl": crl_pem("jlis-gen2")}, headers=admin)
    second = await verifiers.current(conn)
    assert second is not first
    assert second.verify(document, signature, policy, bounds).passed
    assert await verifiers.current(conn) is second


@pytest.fixture
def crl_server() -> Iterator[str]:
    body = pki.crl("jlis-gen2").dump()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/jlis.crl":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_crl_refresh_fetches_from_configured_urls(
    client: AsyncTestClient[Litestar], tokens: Tokens, crl_server: str
) -> None:
    admin = await tokens.header("admin")
    anchor = {"class": "jpki", "certificate": pem_of("jlis-root-gen2"), "crl_url": f"{crl_server}/jlis.crl"}
    assert (await client.post("/api/v1/trust/anchors", json=anchor, headers=admin)).status_code == 201
    broken = {"class": "corporate", "certificate": pem_of("corporate-root"), "crl_url": f"{crl_server}/missing.crl"}
    assert (await client.post("/api/v1/trust/anchors", json=broken, headers=admin)).status_code == 201
    first = (await client.post("/api/v1/trust/crls/refresh", headers=admin)).json()
    assert sorted((o["url"].rsplit("/", 1)[1], o["outcome"]) for o in first) == [
        ("jlis.crl", "stored"),
        ("missing.crl", "unreachable"),
    ]
    second = (await client.post("/api/v1/trust/crls/refresh", headers=admin)).json()
    assert ("jlis.crl", "unchanged") in [(o["url"].rsplit("/", 1)[1], o["outcome"]) for o in second]


async def test_receipt_chain_is_published(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/v1/receipts/certificate")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/pem-certificate-chain")
    blocks = pem.unarmor(response.content, multiple=True)
    assert [kind for kind, _, _ in blocks] == ["CERTIFICATE", "CERTIFICATE"]


@pytest.fixture
def ocsp_server() -> Iterator[str]:
    """A J-LIS-like OCSP responder over HTTP, answering about the present (certomancer builds the answers)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = ocsp.OCSPRequest.load(self.rfile.read(int(self.headers["Content-Length"])))
            responder = pki.arch().service_registry.summon_responder("jlis-gen2", at_time=dt.datetime.now(dt.UTC))
            body = responder.build_ocsp_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ocsp"
    server.shutdown()
    server.server_close()


async def test_ocsp_query_and_use(
    client: AsyncTestClient[Litestar], tokens: Tokens, conn: asyncpg.Connection, ocsp_server: str
) -> None:
    admin = await tokens.header("admin")
    anchor = {"class": "jpki", "certificate": pem_of("jlis-root-gen2"), "ocsp_url": ocsp_server}
    assert (await client.post("/api/v1/trust/anchors", json=anchor, headers=admin)).status_code == 201
    good = await client.post("/api/v1/trust/ocsp", json={"certificate": pem_of("applicant")}, headers=admin)
    assert good.status_code == 200, good.text
    assert (good.json()["status"], good.json()["revoked_at"]) == ("good", None)
    revoked = await client.post("/api/v1/trust/ocsp", json={"certificate": pem_of("revoked-applicant")}, headers=admin)
    assert (revoked.json()["status"], revoked.json()["revoked_at"]) == ("revoked", "2026-06-01T00:00:00Z")

    now = dt.datetime.now(dt.UTC)
    document = b'{"form_id":"x","form_version":1,"answers":{}}'
    verifier = await Verifiers().current(conn)
    bounds = Bounds(validation_time=now, signed_after=now - dt.timedelta(minutes=1))
    report = verifier.verify(
        document, pki.sign_openssl("applicant", document), Policy(classes=frozenset({"jpki"})), bounds
    )
    assert report.passed, report.checks
    assert report.revocation is not None and report.revocation.kind == "ocsp"

    no_responder = {"class": "corporate", "certificate": pem_of("corporate-root")}
    assert (await client.post("/api/v1/trust/anchors", json=no_responder, headers=admin)).status_code == 201
    missing = await client.post("/api/v1/trust/ocsp", json={"certificate": pem_of("corporate-rep")}, headers=admin)
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (422, "no_responder")


async def test_ocsp_responder_down(client: AsyncTestClient[Litestar], tokens: Tokens) -> None:
    admin = await tokens.header("admin")
    anchor = {"class": "jpki", "certificate": pem_of("jlis-root-gen2"), "ocsp_url": "http://127.0.0.1:9/ocsp"}
    await client.post("/api/v1/trust/anchors", json=anchor, headers=admin)
    down = await client.post("/api/v1/trust/ocsp", json={"certificate": pem_of("applicant")}, headers=admin)
    assert down.status_code == 502
    assert down.json()["type"].endswith("/upstream-failed")


async def test_receipts_from_a_pkcs11_key(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = softhsm.make_token(tmp_path / "hsm", "agency-hsm", "agency-receipt", "receipt")
    monkeypatch.setenv("SOFTHSM2_CONF", env["SOFTHSM2_CONF"])
    monkeypatch.setenv("RECEIPT_PIN", softhsm.PIN)
    (tmp_path / "chain.pem").write_bytes(pem.armor("CERTIFICATE", pki.cert("agency-root").dump()))
    configured = msgspec.structs.replace(
        settings,
        receipt_pkcs11_module=softhsm.MODULE,
        receipt_pkcs11_token="agency-hsm",
        receipt_pkcs11_key="receipt",
        receipt_pkcs11_pin_env="RECEIPT_PIN",
        receipt_chain=str(tmp_path / "chain.pem"),
    )
    app = create_app(configured)
    async with AsyncTestClient(app) as client:
        chain = pem.unarmor((await client.get("/api/v1/receipts/certificate")).content, multiple=True)
        assert [x509.Certificate.load(der).subject for _, _, der in chain] == [
            pki.cert("agency-receipt").subject,
            pki.cert("agency-root").subject,
        ]
        key: ReceiptKey = app.state.services.receipt_key
        assert key.development is False
        data, signature = await sign_receipt(RECEIPT, key.signer)
        # Laid out in a worker thread, signed on the loop's thread: one session, one thread.
        pdf = await render_pdf(RECEIPT, PRESENTATION, key.signer, app.state.services.typeface)
    assert verify_receipt(data, signature, [pki.cert("agency-root")]).passed
    assert pdf.startswith(b"%PDF") and b"/ByteRange" in pdf
