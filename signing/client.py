"""What an applicant's software does: sign the exact bytes, detached, with a file key or a card.

pyHanko does the CMS; this module only chooses the key. A My Number card is reached through
PKCS#11 (OpenSC's ``opensc-pkcs11.so`` with its JPKI driver); the card signs with the raw RSA
mechanism, so the digest and its DigestInfo are computed on the host (``use_raw_mechanism``).
Tests use SoftHSM2 as the card.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Iterator

from asn1crypto import x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign import signers
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

DIGEST = "sha256"


class KeptKeySigner(signers.SimpleSigner):
    """pyHanko's in-memory signer, with the private key parsed once.

    ``SimpleSigner.sign_raw`` parses the key on every signature, and OpenSSL 3 checks an RSA key's
    consistency as it loads it: about 65 ms a signature, which made receipts the slowest part of
    intake (bench/ingest.py). The key is loaded on first use and kept.
    """

    _kept: PrivateKeyTypes | None = None

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        if self._kept is None:
            self._kept = serialization.load_der_private_key(self.signing_key.dump(), password=None)
        key = self._kept
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        name = mechanism.signature_algo
        if isinstance(key, rsa.RSAPrivateKey) and name == "rsassa_pkcs1v15":
            return key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if isinstance(key, rsa.RSAPrivateKey) and name == "rsassa_pss":
            scheme, hash_algorithm = process_pss_params(mechanism["parameters"])
            return key.sign(data, scheme, hash_algorithm)
        if isinstance(key, ec.EllipticCurvePrivateKey) and name == "ecdsa":
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        signature: bytes = super().sign_raw(data, digest_algorithm)
        return signature

    def detached_cms(self, data: bytes) -> bytes:
        """A detached CMS over ``data``, built by OpenSSL (cryptography's PKCS#7 builder) rather than in Python.

        The same structure pyHanko makes (signed contentType, messageDigest, signingTime; the chain
        included) at a fraction of the cost: intake signs one receipt per submission.
        """
        if self._kept is None:
            self._kept = serialization.load_der_private_key(self.signing_key.dump(), password=None)
        key = self._kept
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise TypeError(f"{type(key).__name__} keys are not supported here")
        assert self.signing_cert is not None  # a SimpleSigner always has its certificate
        builder = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(data)
            .add_signer(cx509.load_der_x509_certificate(self.signing_cert.dump()), key, hashes.SHA256())
        )
        for cert in self.cert_registry:
            if cert.dump() != self.signing_cert.dump():
                builder = builder.add_certificate(cx509.load_der_x509_certificate(cert.dump()))
        options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCapabilities]
        return builder.sign(serialization.Encoding.DER, options)


def p12_signer(data: bytes, password: bytes | None) -> signers.Signer:
    """A signer from a PKCS#12 file (a corporate certificate, or a test key)."""
    signer: signers.Signer = KeptKeySigner.load_pkcs12_data(data, other_certs=[], passphrase=password)
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
    """With a claimed signingTime, as CAdES asks: a mandate's must precede the application it allows."""
    attributes = PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC))
    content = await signer.async_sign_general_data(document, DIGEST, detached=True, signed_attr_settings=attributes)
    return bytes(content.dump())


def sign_detached(document: bytes, signer: signers.Signer) -> bytes:
    """The detached CMS (DER) over ``document`` exactly as given."""
    return asyncio.run(asign_detached(document, signer))
