"""Regenerate the test PKI's keys: ``python -m tests.pki.generate_keys [NAME...]``.

TEST KEYS ONLY. They are committed so that the test PKI is deterministic; nothing real trusts them.
Without names every key is made anew; with names, only those (a key added to the PKI, the others kept).
"""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KEYS_DIR = Path(__file__).parent / "keys"
RSA_KEYS = (
    "jlis-gen1", "jlis-gen2", "jlis-forged", "jlis-test", "corporate-ca", "accredited-ca",
    "applicant", "applicant-gen1", "applicant-renewed", "second-applicant", "revoked-applicant",
    "expired-applicant", "future-applicant", "wrong-usage-applicant", "auth-applicant",
    "test-card-applicant", "forged-applicant", "corporate-rep", "agency-root", "agency-receipt", "tsa",
    "sharoushi-ca", "sharoushi-agent", "gyouseishoshi-ca", "gyouseishoshi-agent",
)  # fmt: skip
EC_KEYS = ("accredited-signer",)
SMALL_RSA_KEYS = ("weak-applicant",)


def main(names: list[str]) -> None:
    KEYS_DIR.mkdir(exist_ok=True)
    known = RSA_KEYS + EC_KEYS + SMALL_RSA_KEYS
    if unknown := set(names) - set(known):
        raise SystemExit(f"not keys of the test PKI: {', '.join(sorted(unknown))}")
    for name in names or known:
        if name in EC_KEYS:
            key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = ec.generate_private_key(ec.SECP256R1())
        else:
            key = rsa.generate_private_key(65537, 1024 if name in SMALL_RSA_KEYS else 2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (KEYS_DIR / f"{name}.key.pem").write_bytes(pem)


if __name__ == "__main__":
    main(sys.argv[1:])
