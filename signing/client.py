"""What an applicant's software does: sign the exact bytes, detached, with a file key or a card.

pyHanko does the CMS; this module only chooses the key. A My Number card is reached through
PKCS#11 (OpenSC's ``opensc-pkcs11.so`` with its JPKI driver); the card signs with the raw RSA
mechanism, so the digest and its DigestInfo are computed on the host (``use_raw_mechanism``).
Tests use SoftHSM2 as the card.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from asn1crypto import x509
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign import signers
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

DIGEST = "sha256"


def p12_signer(data: bytes, password: bytes | None) -> signers.Signer:
    """A signer from a PKCS#12 file (a corporate certificate, or a test key)."""
    signer: signers.Signer = signers.SimpleSigner.load_pkcs12_data(data, other_certs=[], passphrase=password)
    return signer


@contextlib.contextmanager
def pkcs11_signer(
    module: str, token_label: str, key_label: str, pin: str, certificate: x509.Certificate | None = None
) -> Iterator[signers.Signer]:
    """A signer on a token; the certificate is read from the token under the key's label unless given."""
    session = open_pkcs11_session(module, token_criteria=TokenCriteria(label=token_label), user_pin=pin)
    try:
        yield PKCS11Signer(
            session,
            key_label=key_label,
            cert_label=None if certificate is not None else key_label,
            signing_cert=certificate,
            use_raw_mechanism=True,
        )
    finally:
        session.close()


async def asign_detached(document: bytes, signer: signers.Signer) -> bytes:
    content = await signer.async_sign_general_data(document, DIGEST, detached=True)
    return bytes(content.dump())


def sign_detached(document: bytes, signer: signers.Signer) -> bytes:
    """The detached CMS (DER) over ``document`` exactly as given."""
    return asyncio.run(asign_detached(document, signer))
