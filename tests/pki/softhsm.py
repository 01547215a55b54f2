"""A SoftHSM2 token holding a test key and its certificate: a stand-in for a card or an HSM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

from asn1crypto import pem

from tests import pki

MODULE: Final = "/usr/lib/softhsm/libsofthsm2.so"  # Debian's softhsm2 (.ci/run installs it)
PIN: Final = "1234"


def make_token(directory: Path, token_label: str, key: str, object_label: str) -> dict[str, str]:
    """Initialise a token in ``directory`` with ``key``'s private key and certificate; return its environment."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    config = directory / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    env = os.environ | {"SOFTHSM2_CONF": str(config)}
    util = ["softhsm2-util"]
    subprocess.run(
        [*util, "--init-token", "--free", "--label", token_label, "--pin", PIN, "--so-pin", "5678"],
        env=env,
        check=True,
        capture_output=True,
    )
    (directory / "key.pem").write_bytes(pem.armor("PRIVATE KEY", pki.private_key(key).dump()))
    imported = ["--import", str(directory / "key.pem"), "--token", token_label, "--label", object_label, "--id", "01"]
    subprocess.run([*util, *imported, "--pin", PIN], env=env, check=True, capture_output=True)
    # In a child process: PKCS#11 modules are loaded once per process, and SoftHSM reads its
    # configuration (which token directory) only then, so the test process must not load it here.
    certificate = pki.cert(key)
    (directory / "cert.der").write_bytes(certificate.dump())
    (directory / "subject.der").write_bytes(certificate.subject.dump())
    subprocess.run(
        [sys.executable, "-c", _STORE_CERTIFICATE, MODULE, token_label, object_label, str(directory)],
        env=env,
        check=True,
        capture_output=True,
    )
    return env


_STORE_CERTIFICATE: Final = """
import sys, pathlib, pkcs11
module, token, label, directory = sys.argv[1:]
d = pathlib.Path(directory)
with pkcs11.lib(module).get_token(token_label=token).open(rw=True, user_pin="1234") as session:
    session.create_object({
        pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE,
        pkcs11.Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
        pkcs11.Attribute.TOKEN: True,
        pkcs11.Attribute.LABEL: label,
        pkcs11.Attribute.ID: b"\\x01",
        pkcs11.Attribute.SUBJECT: (d / "subject.der").read_bytes(),
        pkcs11.Attribute.VALUE: (d / "cert.der").read_bytes(),
    })
"""
