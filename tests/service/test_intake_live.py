"""Intake against a live server process: the applicant's client, and a crash in the middle of a storm."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import hashlib
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from asn1crypto import pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import load_der_x509_certificate

from tests import pki
from tests.service.test_cli import SHINSEI, env_for, free_port, run, wait_ready

ANSWERS = {
    "full_name": "山田 太郎",
    "full_name_kana": "ヤマダ タロウ",
    "birth_date": "1990-02-15",
    "postal_code": "335-0022",
    "address": "埼玉県戸田市上戸田一丁目18番1号",
    "event": "opening",
    "event_date": "2026-11-01",
    "occupation": "デザイナー",
}


class Server:
    def __init__(self, db: str, data_dir: Path, **env: str) -> None:
        self.db, self.data_dir, self.port, self.env = db, data_dir, free_port(), env
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = env_for(self.db, SHINSEI_DATA_DIR=str(self.data_dir), SHINSEI_REVERIFY_SECONDS="0", **self.env)
        self.process = subprocess.Popen(
            [*SHINSEI, "serve", "--port", str(self.port), "--load-samples"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_ready(self.base, self.process)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.communicate(timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def server(db: str, tmp_path: Path) -> Iterator[Server]:
    live = Server(db, tmp_path / "state")
    live.start()
    admin = run(["token", "create", "--role", "admin"], env_for(db)).stdout.strip()
    headers = {"Authorization": f"Bearer {admin}"}
    anchor = {"class": "jpki", "certificate": pem.armor("CERTIFICATE", pki.cert("jlis-root-gen2").dump()).decode()}
    assert httpx.post(f"{live.base}/api/v1/trust/anchors", json=anchor, headers=headers).status_code == 201
    crl = {"crl": pem.armor("X509 CRL", pki.crl("jlis-gen2").dump()).decode()}
    assert httpx.post(f"{live.base}/api/v1/trust/crls", json=crl, headers=headers).status_code == 201
    yield live
    live.stop()


def test_the_applicants_client(server: Server, tmp_path: Path) -> None:
    key = serialization.load_der_private_key(pki.private_key("applicant").dump(), None)
    cert = load_der_x509_certificate(pki.cert("applicant").dump())
    (tmp_path / "me.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"me", key, cert, None, serialization.BestAvailableEncryption(b"test-only")
        )  # type: ignore[arg-type]
    )
    (tmp_path / "answers.json").write_bytes(msgspec.json.encode(ANSWERS))
    env = os.environ | {"P12_PASSWORD": "test-only"}
    result = subprocess.run(
        [*SHINSEI, "submit", "--form", "nta-kaigyo-todoke", "--answers", str(tmp_path / "answers.json"),
         "--p12", str(tmp_path / "me.p12"), "--password-env", "P12_PASSWORD", "--server", server.base,
         "--out", str(tmp_path / "receipts")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Quiet by default: the one summary line, none of httpx's request lines.
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("submission "), result.stderr
    number = result.stdout.strip()
    assert number.startswith("NTA-") and number.endswith("-000001")
    saved = sorted(p.name for p in (tmp_path / "receipts").iterdir())
    assert saved == [f"{number}.{s}" for s in ("receipt.json", "receipt.p7s", "receipt.pdf", "token")]
    submission_id, token = (tmp_path / "receipts" / f"{number}.token").read_text().split()
    status = run(["status", submission_id, "--token", token, "--server", server.base], env_for(None))
    assert status.returncode == 0, status.stderr
    assert msgspec.json.decode(status.stdout)["status"] == "received"
    assert status.stderr == ""
    verbose = run(["-v", "status", submission_id, "--token", token, "--server", server.base], env_for(None))
    assert "HTTP Request: GET" in verbose.stderr
    wrong = run(["status", submission_id, "--token", "sbm_nope", "--server", server.base], env_for(None))
    assert wrong.returncode == 1
    assert "not found" in wrong.stderr


def prepare(base: str, count: int) -> list[tuple[str, list[tuple[str, Any]]]]:
    """Signed submissions, ready before the storm: (idempotency key, multipart parts)."""
    prepared = []
    for i in range(count):
        nonce = httpx.post(f"{base}/api/v1/forms/nta-kaigyo-todoke/versions/1/nonces").json()["nonce"]
        document = msgspec.json.encode(
            {
                "form_id": "nta-kaigyo-todoke",
                "form_version": 1,
                "nonce": nonce,
                "answers": ANSWERS | {"occupation": f"職業{i}"},
            }
        )
        parts = [
            ("document", ("document.json", document, "application/json")),
            ("signature", ("s.p7s", pki.sign_openssl("applicant", document), "application/pkcs7-signature")),
        ]
        prepared.append((f"storm-{i}-{uuid.uuid4()}", parts))
    return prepared


async def completeness(db: str) -> dict[str, tuple[int, int, bool]]:
    """Per submission: revisions, signatures, and whether its receipt is there."""
    conn = await asyncpg.connect(db)
    try:
        rows = await conn.fetch(
            """SELECT s.id::text AS id, count(DISTINCT r.id) AS revisions, count(g.*) AS signatures,
                      bool_and(r.receipt_cms IS NOT NULL AND length(r.receipt_json) > 0) AS receipt
               FROM submission s LEFT JOIN revision r ON r.submission_id = s.id
               LEFT JOIN revision_signature g ON g.revision_id = r.id GROUP BY s.id"""
        )
        orphans = await conn.fetchval(
            "SELECT count(*) FROM revision r LEFT JOIN submission s ON s.id = r.submission_id WHERE s.id IS NULL"
        )
        assert orphans == 0
        return {r["id"]: (r["revisions"], r["signatures"], r["receipt"]) for r in rows}
    finally:
        await conn.close()


def test_sigkill_mid_storm_loses_nothing_and_doubles_nothing(server: Server) -> None:
    prepared = prepare(server.base, 40)
    acknowledged: dict[str, str] = {}

    def send(item: tuple[str, list[tuple[str, Any]]]) -> None:
        key, parts = item
        try:
            response = httpx.post(
                f"{server.base}/api/v1/submissions", files=parts, headers={"Idempotency-Key": key}, timeout=30
            )
        except httpx.HTTPError:
            return
        if response.status_code == 201:
            acknowledged[key] = response.json()["submission_id"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(send, item) for item in prepared]
        while len(acknowledged) < 12:
            concurrent.futures.wait(futures, timeout=0.01, return_when=concurrent.futures.FIRST_COMPLETED)
        server.kill()  # SIGKILL: no shutdown, no flush, in the middle of requests
        concurrent.futures.wait(futures)

    stored = asyncio.run(completeness(server.db))
    assert set(acknowledged.values()) <= set(stored)
    assert all(state == (1, 1, True) for state in stored.values())  # nothing half-written
    assert len(acknowledged) < len(prepared)  # the kill really interrupted the storm

    server.start()
    for key, parts in prepared:  # every client retries with its key
        response = httpx.post(
            f"{server.base}/api/v1/submissions", files=parts, headers={"Idempotency-Key": key}, timeout=30
        )
        assert response.status_code == 201, response.text
        if key in acknowledged:
            assert response.json()["submission_id"] == acknowledged[key]
    stored = asyncio.run(completeness(server.db))
    assert len(stored) == len(prepared)  # exactly one submission per request
    assert all(state == (1, 1, True) for state in stored.values())
    digests = {hashlib.sha256(parts[0][1][1]).hexdigest() for _, parts in prepared}
    assert len(digests) == len(prepared)


def test_two_instances_on_one_database_share_intake(server: Server, db: str, tmp_path: Path) -> None:
    """Scale-out: two `shinsei serve` processes take applications at once; numbers unique, none lost, chain whole."""
    second = Server(db, tmp_path / "second")
    second.start()
    try:
        prepared = prepare(server.base, 30)
        bases = [server.base, second.base]
        created: list[dict[str, Any]] = []

        def send(index: int) -> None:
            _, parts = prepared[index]
            response = httpx.post(f"{bases[index % 2]}/api/v1/submissions", files=parts, timeout=60)
            assert response.status_code == 201, response.text
            created.append(response.json())

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            list(pool.map(send, range(len(prepared))))
    finally:
        second.stop()

    numbers = [c["receipt_number"] for c in created]
    assert len(set(numbers)) == len(prepared)  # unique across both instances
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, len(prepared) + 1))  # no gaps here
    stored = asyncio.run(completeness(db))
    assert set(stored) == {c["submission_id"] for c in created}
    assert all(state == (1, 1, True) for state in stored.values())
    chain = run(["audit", "verify"], env_for(db))
    assert chain.returncode == 0, chain.stdout + chain.stderr
    count = int(chain.stdout.split()[0])

    async def received() -> int:
        conn = await asyncpg.connect(db)
        try:
            found: int = await conn.fetchval("SELECT count(*) FROM audit_event WHERE action = 'submission.received'")
            return found
        finally:
            await conn.close()

    assert asyncio.run(received()) == len(prepared) and count >= len(prepared)


def test_an_agent_files_with_a_mandate_through_the_client(server: Server, db: str, tmp_path: Path) -> None:
    """代理申請 from the command line: the principal's signed mandate travels with the agent's application."""
    from tests.api.conftest import FORM
    from tests.api.test_proxy_filing import mandate
    from tests.api.test_submissions import PDF

    admin = {"Authorization": f"Bearer {run(['token', 'create', '--role', 'admin'], env_for(db)).stdout.strip()}"}
    assert httpx.post(f"{server.base}/api/v1/forms", json=FORM, headers=admin).status_code == 201
    published = httpx.post(f"{server.base}/api/v1/forms/{FORM['id']}/draft/publish", headers=admin)
    assert published.status_code == 200, published.text
    # A mandate counts only with current revocation data for the principal (not the fixture's old CRL).
    current = {"crl": pem.armor("X509 CRL", pki.crl("jlis-gen2", dt.datetime.now(dt.UTC)).dump()).decode()}
    assert httpx.post(f"{server.base}/api/v1/trust/crls", json=current, headers=admin).status_code == 201
    key = serialization.load_der_private_key(pki.private_key("second-applicant").dump(), None)
    cert = load_der_x509_certificate(pki.cert("second-applicant").dump())
    (tmp_path / "agent.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"agent", key, cert, None, serialization.BestAvailableEncryption(b"test-only")
        )  # type: ignore[arg-type]
    )
    (tmp_path / "answers.json").write_bytes(msgspec.json.encode({"applicant_name": "山田 太郎", "workers": 3}))
    (tmp_path / "agreement.pdf").write_bytes(PDF)
    mandate_bytes = mandate()
    (tmp_path / "mandate.json").write_bytes(mandate_bytes)
    (tmp_path / "mandate.p7s").write_bytes(pki.sign_openssl("applicant", mandate_bytes))  # the principal, earlier
    command = [
        *SHINSEI, "submit", "--form", FORM["id"], "--answers", str(tmp_path / "answers.json"),
        "--attach", f"agreement={tmp_path / 'agreement.pdf'}", "--p12", str(tmp_path / "agent.p12"),
        "--password-env", "P12_PASSWORD", "--server", server.base, "--out", str(tmp_path / "receipts"),
    ]  # fmt: skip
    env = os.environ | {"P12_PASSWORD": "test-only"}
    half = subprocess.run([*command, "--mandate", str(tmp_path / "mandate.json")], capture_output=True, text=True,
                          env=env, timeout=120, check=False)  # fmt: skip
    assert half.returncode == 2 and "go together" in half.stderr
    result = subprocess.run(
        [*command, "--mandate", str(tmp_path / "mandate.json"), "--mandate-signature", str(tmp_path / "mandate.p7s")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    receipt = msgspec.json.decode((tmp_path / "receipts" / f"{result.stdout.strip()}.receipt.json").read_bytes())
    assert (receipt["filed_by"], receipt["on_behalf_of"]) == ("鈴木 一郎", "山田 太郎")
