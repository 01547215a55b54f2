"""The agency's receipt key, as production configures it: a PKCS#12 file, or a key on an HSM (PKCS#11)."""

from __future__ import annotations

from typing import Any

import msgspec
from asn1crypto import pem, x509
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign import signers
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

from signing.client import KeptKeySigner


class ReceiptKey(msgspec.Struct, frozen=True, kw_only=True):
    """The agency's receipt signer and the chain that proves it (receipt certificate first, root last)."""

    signer: signers.Signer
    chain: list[x509.Certificate]
    development: bool

    def chain_pem(self) -> bytes:
        return b"".join(pem.armor("CERTIFICATE", c.dump()) for c in self.chain)


def receipt_key_from_p12(data: bytes, password: bytes | None) -> ReceiptKey:
    signer = KeptKeySigner.load_pkcs12_data(data, other_certs=[], passphrase=password)
    chain = [signer.signing_cert, *[c for c in signer.cert_registry if c != signer.signing_cert]]
    return ReceiptKey(signer=signer, chain=chain, development=False)


def receipt_key_from_pkcs11(
    module: str, token: str, key_label: str, pin: str, chain: list[x509.Certificate]
) -> tuple[ReceiptKey, Any]:
    """A receipt signer on an HSM; returns the key and the session to close at shutdown."""
    session = open_pkcs11_session(module, token_criteria=TokenCriteria(label=token), user_pin=pin)
    signer = PKCS11Signer(session, key_label=key_label, cert_label=key_label, ca_chain=chain)
    certificate = signer.signing_cert
    return ReceiptKey(signer=signer, chain=[certificate, *chain], development=False), session
