"""``shinsei sign`` and ``shinsei verify`` as an applicant and an examiner run them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import load_der_x509_certificate
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.trust import fingerprint
from tests import pki
from tests.pki import softhsm

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
    return softhsm.make_token(tmp_path / "card", "card", "applicant", "signing") | {"CARD_PIN": softhsm.PIN}


def test_sign_with_a_pkcs11_token(files: Path, token: dict[str, str]) -> None:
    signed = run(
        "sign", str(files / "application.json"), "-o", str(files / "card.p7s"), "--pkcs11-module", softhsm.MODULE,
        "--token-label", "card", "--key-label", "signing", "--pin-env", "CARD_PIN", env=token,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    result = verify(files, files / "card.p7s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["signer"]["sha256"] == fingerprint(pki.cert("applicant"))


def test_rollover_crl_carried_by_the_signature_and_an_unusable_crl(files: Path) -> None:
    """A gen2 card with its link certificate inside the CMS; only gen1 trusted; both generations' CRLs."""
    document = (files / "application.json").read_bytes()
    signer = signers.SimpleSigner(
        signing_cert=pki.cert("applicant"),
        signing_key=pki.private_key("applicant"),
        cert_registry=SimpleCertificateStore.from_certs([pki.cert("jlis-link-new-with-old")]),
    )
    (files / "card.p7s").write_bytes(
        asyncio.run(signer.async_sign_general_data(document, "sha256", detached=True)).dump()
    )
    (files / "g1.pem").write_bytes(pem.armor("CERTIFICATE", pki.cert("jlis-root-gen1").dump()))
    (files / "g1.crl").write_bytes(pki.crl("jlis-gen1").dump())
    (files / "g2.crl").write_bytes(pem.armor("X509 CRL", pki.crl("jlis-gen2").dump()))
    (files / "corporate.crl").write_bytes(pki.crl("corporate").dump())
    common = [str(files / "application.json"), str(files / "card.p7s"), "--trust", str(files / "g1.pem")]
    common += ["--class", "jpki", "--at", AT, "--crl", str(files / "g1.crl")]
    result = run("verify", *common, "--crl", str(files / "g2.crl"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["indication"] == "TOTAL_PASSED"
    unusable = run("verify", *common, "--crl", str(files / "g2.crl"), "--crl", str(files / "corporate.crl"))
    assert unusable.returncode == 2
    assert f"--crl {files / 'corporate.crl'}" in unusable.stderr and "signed this CRL" in unusable.stderr
