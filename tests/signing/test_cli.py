"""``shinsei sign`` and ``shinsei verify`` as an applicant and an examiner run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pkcs11
import pytest
from asn1crypto import pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import load_der_x509_certificate

from signing.trust import fingerprint
from tests import pki

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"  # Debian's softhsm2 (.ci/run installs it)
SHINSEI = [sys.executable, "-m", "service"]
AT = "2026-11-27T12:00:00+00:00"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHINSEI, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "application.json").write_bytes(b'{"form_id":"nta-kaigyo-todoke","form_version":1,"answers":{}}')
    (tmp_path / "jlis.pem").write_bytes(pem.armor("CERTIFICATE", pki.cert("jlis-root-gen2").dump()))
    (tmp_path / "jlis.crl").write_bytes(pki.crl("jlis-gen2").dump())
    key = serialization.load_der_private_key(pki.private_key("applicant").dump(), None)
    cert = load_der_x509_certificate(pki.cert("applicant").dump())
    bundle = pkcs12.serialize_key_and_certificates(
        b"applicant",
        key,
        cert,
        None,
        serialization.BestAvailableEncryption(b"test-only"),  # type: ignore[arg-type]
    )
    (tmp_path / "applicant.p12").write_bytes(bundle)
    return tmp_path


def verify(files: Path, signature: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "verify", str(files / "application.json"), str(signature), "--trust", str(files / "jlis.pem"),
        "--crl", str(files / "jlis.crl"), "--class", "jpki", "--at", AT, *extra,
    )  # fmt: skip


def test_sign_with_p12_then_verify(files: Path) -> None:
    signed = run(
        "sign", str(files / "application.json"), "-o", str(files / "application.p7s"),
        "--p12", str(files / "applicant.p12"), "--password-env", "P12_PASSWORD",
        env=os.environ | {"P12_PASSWORD": "test-only"},
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    result = verify(files, files / "application.p7s")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["indication"], report["holder"]["name"]) == ("TOTAL_PASSED", "山田 太郎")

    (files / "application.json").write_bytes(b'{"form_id":"nta-kaigyo-todoke","form_version":1,"answers":{"x":1}}')
    tampered = verify(files, files / "application.p7s")
    assert tampered.returncode == 1
    assert json.loads(tampered.stdout)["sub_indication"] == "HASH_FAILURE"


def test_exit_statuses(files: Path) -> None:
    (files / "expired.p7s").write_bytes(
        pki.sign_openssl("expired-applicant", (files / "application.json").read_bytes())
    )
    assert verify(files, files / "expired.p7s").returncode == 3
    assert run("verify", str(files / "application.json")).returncode == 2  # usage


@pytest.fixture
def token(tmp_path: Path) -> dict[str, str]:
    """A SoftHSM2 token standing in for a My Number card: the applicant's key and certificate on it."""
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tmp_path / "softhsm2.conf").write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    env = os.environ | {"SOFTHSM2_CONF": str(tmp_path / "softhsm2.conf"), "CARD_PIN": "1234"}
    util = ["softhsm2-util"]
    subprocess.run(
        [*util, "--init-token", "--free", "--label", "card", "--pin", "1234", "--so-pin", "5678"],
        env=env,
        check=True,
        capture_output=True,
    )
    (tmp_path / "key.pem").write_bytes(pem.armor("PRIVATE KEY", pki.private_key("applicant").dump()))
    key = ["--import", str(tmp_path / "key.pem"), "--token", "card", "--label", "signing", "--id", "01"]
    subprocess.run([*util, *key, "--pin", "1234"], env=env, check=True, capture_output=True)
    os.environ["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]
    try:
        library = pkcs11.lib(SOFTHSM_MODULE)
        with library.get_token(token_label="card").open(rw=True, user_pin="1234") as session:
            certificate = pki.cert("applicant")
            session.create_object({
                pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE,
                pkcs11.Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                pkcs11.Attribute.TOKEN: True,
                pkcs11.Attribute.LABEL: "signing",
                pkcs11.Attribute.ID: b"\x01",
                pkcs11.Attribute.SUBJECT: certificate.subject.dump(),
                pkcs11.Attribute.VALUE: certificate.dump(),
            })  # fmt: skip
    finally:
        del os.environ["SOFTHSM2_CONF"]
    return env


def test_sign_with_a_pkcs11_token(files: Path, token: dict[str, str]) -> None:
    signed = run(
        "sign", str(files / "application.json"), "-o", str(files / "card.p7s"), "--pkcs11-module", SOFTHSM_MODULE,
        "--token-label", "card", "--key-label", "signing", "--pin-env", "CARD_PIN", env=token,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    result = verify(files, files / "card.p7s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["signer"]["sha256"] == fingerprint(pki.cert("applicant"))
