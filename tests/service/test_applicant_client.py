"""The applicant's client against a live server: drafts over several sittings, and card sign-in."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from asn1crypto import pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import load_der_x509_certificate

from tests import pki
from tests.service.test_cli import SHINSEI, env_for, run
from tests.service.test_intake_live import ANSWERS, Server

PASSWORD = b"test-only"


def p12(tmp_path: Path, label: str) -> Path:
    """A PKCS#12 of a test certificate and its key (TEST KEYS ONLY)."""
    key = serialization.load_der_private_key(pki.private_key(label).dump(), None)
    cert = load_der_x509_certificate(pki.cert(label).dump())
    path = tmp_path / f"{label}.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            label.encode(), key, cert, None, serialization.BestAvailableEncryption(PASSWORD)
        )  # type: ignore[arg-type]
    )
    return path


@pytest.fixture
def live(db: str, tmp_path: Path) -> Iterator[Server]:
    server = Server(db, tmp_path / "state")
    server.start()
    admin = run(["token", "create", "--role", "admin"], env_for(db)).stdout.strip()
    headers = {"Authorization": f"Bearer {admin}"}
    anchor = {"class": "jpki", "certificate": pem.armor("CERTIFICATE", pki.cert("jlis-root-gen2").dump()).decode()}
    assert httpx.post(f"{server.base}/api/v1/trust/anchors", json=anchor, headers=headers).status_code == 201
    # Current now: a sign-in is refused on revocation data that is not.
    crl = {"crl": pem.armor("X509 CRL", pki.crl("jlis-gen2", dt.datetime.now(dt.UTC)).dump()).decode()}
    assert httpx.post(f"{server.base}/api/v1/trust/crls", json=crl, headers=headers).status_code == 201
    yield server
    server.stop()


def shinsei(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"P12_PASSWORD": PASSWORD.decode()}
    return subprocess.run([*SHINSEI, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_draft_over_several_sittings_then_submitted(live: Server, tmp_path: Path) -> None:
    first = {k: ANSWERS[k] for k in ("full_name", "full_name_kana", "birth_date")}
    (tmp_path / "first.json").write_bytes(msgspec.json.encode(first))
    started = shinsei("draft", "new", "--form", "nta-kaigyo-todoke", "--answers", str(tmp_path / "first.json"),
                      "--server", live.base)  # fmt: skip
    assert started.returncode == 0, started.stderr
    draft_id, token = started.stdout.split()
    assert token.startswith("drf_")
    assert "to do" in started.stderr

    values = [f"{k}={ANSWERS[k]}" for k in ("postal_code", "address", "event", "event_date", "occupation")]
    changed = shinsei("draft", "set", draft_id, *values, "--token", token, "--server", live.base)
    assert changed.returncode == 0, changed.stderr
    draft = msgspec.json.decode(changed.stdout)
    assert (draft["errors"], draft["todo"], draft["complete"]) == ([], [], True)
    assert draft["answers"] == ANSWERS

    wrong = shinsei("draft", "show", draft_id, "--token", "drf_wrong", "--server", live.base)
    assert (wrong.returncode, "not found" in wrong.stderr) == (1, True)

    final = shinsei("draft", "finalize", draft_id, "--token", token, "--p12", str(p12(tmp_path, "applicant")),
                    "--password-env", "P12_PASSWORD", "--out", str(tmp_path / "receipts"),
                    "--document", str(tmp_path / "signed.json"), "--server", live.base)  # fmt: skip
    assert final.returncode == 0, final.stderr
    number = final.stdout.strip()
    assert number.startswith("NTA-")
    assert msgspec.json.decode((tmp_path / "signed.json").read_bytes())["answers"] == ANSWERS
    assert (tmp_path / "receipts" / f"{number}.receipt.p7s").stat().st_size > 0
    gone = shinsei("draft", "show", draft_id, "--token", token, "--server", live.base)
    assert gone.returncode == 1
    assert "There is no draft" in gone.stderr


def test_login_with_the_card_then_list_applications(live: Server, tmp_path: Path) -> None:
    (tmp_path / "answers.json").write_bytes(msgspec.json.encode(ANSWERS))
    signing_p12, auth_p12 = str(p12(tmp_path, "applicant")), str(p12(tmp_path, "auth-applicant"))
    submitted = shinsei("submit", "--form", "nta-kaigyo-todoke", "--answers", str(tmp_path / "answers.json"),
                        "--p12", signing_p12, "--password-env", "P12_PASSWORD", "--server", live.base,
                        "--out", str(tmp_path / "receipts"))  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    number = submitted.stdout.strip()

    key = ("--p12", auth_p12, "--password-env", "P12_PASSWORD", "--server", live.base)
    unlinked = shinsei("login", *key)
    assert unlinked.returncode == 1
    assert "not linked to its holder yet" in unlinked.stderr
    linked = shinsei("login", *key, "--link-p12", signing_p12, "--link-password-env", "P12_PASSWORD")
    assert linked.returncode == 0, linked.stderr
    assert "card linked" in linked.stderr
    token = linked.stdout.strip()
    assert token.startswith("aps_")

    listed = shinsei("applications", "--token", token, "--all", "--server", live.base)
    assert listed.returncode == 0, listed.stderr
    [item] = [msgspec.json.decode(line) for line in listed.stdout.splitlines()]
    assert (item["receipt_number"], item["form_id"], item["status"]) == (number, "nta-kaigyo-todoke", "received")

    wrong_key = shinsei("login", "--p12", signing_p12, "--password-env", "P12_PASSWORD", "--server", live.base)
    assert wrong_key.returncode == 1
    assert "CHAIN_CONSTRAINTS_FAILURE" in wrong_key.stderr


def test_usage_errors_exit_2_and_client_errors_exit_1_before_anything_is_sent() -> None:
    """The click commands keep the argparse ones' exits: 2 for the command line, 1 for what the client finds."""
    for args, message in (
        (("login", "--server", "http://127.0.0.1:9"), "give one of --p12 and --pkcs11-module"),
        (("login", "--p12", "a.p12", "--pkcs11-module", "m.so"), "give one of --p12 and --pkcs11-module"),
        (("login", "--p12", "a.p12", "--link-p12", "b.p12", "--link-pkcs11-module", "m.so"),
         "give one of --link-p12 and --link-pkcs11-module"),
        (("draft", "new"), "Missing option '--form'"),
        (("draft", "set"), "Missing argument 'DRAFT_ID'"),
        (("draft", "finalize", "d", "--token", "drf_x"), "give one of --p12 and --pkcs11-module"),
        (("applications", "--limit", "many"), "'many' is not a valid integer"),
    ):  # fmt: skip
        result = shinsei(*args)
        assert (result.returncode, message in result.stderr) == (2, True), (args, result.stderr)
    env = {k: v for k, v in os.environ.items() if k not in {"SHINSEI_DRAFT_TOKEN", "SHINSEI_SESSION_TOKEN"}}
    for args, message in (
        (("draft", "show", "d", "--server", "http://127.0.0.1:9"), "shinsei: give the draft token"),
        (("applications", "--server", "http://127.0.0.1:9"), "shinsei: give the session token"),
    ):
        result = subprocess.run([*SHINSEI, *args], capture_output=True, text=True, env=env, timeout=60, check=False)
        assert (result.returncode, result.stderr.startswith(message)) == (1, True), (args, result.stderr)
