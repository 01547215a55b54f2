"""Signature checks over asn1crypto structures, with the algorithm allow-list in one place."""

from __future__ import annotations

import functools
from typing import Final

from asn1crypto import algos, keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

#: Digests we accept; SHA-1 is broken for signatures (and JPKI moved off it in 2014).
DIGESTS: Final[dict[str, hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
MIN_RSA_BITS: Final = 2048
CURVES: Final = frozenset({"secp256r1", "secp384r1", "secp521r1"})


class WeakAlgorithm(Exception):
    """An algorithm or key below the allow-list: CRYPTO_CONSTRAINTS_FAILURE_NO_POE."""


def digest(name: str, data: bytes) -> bytes:
    algorithm = DIGESTS.get(name)
    if algorithm is None:
        raise WeakAlgorithm(f"digest {name} is not allowed")
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def public_key(info: keys.PublicKeyInfo) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    return _public_key(info.dump())


@functools.lru_cache(maxsize=4096)
def _public_key(der: bytes) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """Loaded once per key (a signature's check asks twice; CA keys are asked by every chain).

    A key below the allow-list raises every time: ``lru_cache`` keeps only what returns.
    """
    key = serialization.load_der_public_key(der)
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise WeakAlgorithm(f"RSA key of {key.key_size} bits")
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in CURVES:
            raise WeakAlgorithm(f"curve {key.curve.name} is not allowed")
        return key
    raise WeakAlgorithm(f"{type(key).__name__} keys are not allowed")


def verify(
    info: keys.PublicKeyInfo,
    algorithm: algos.SignedDigestAlgorithm,
    signature: bytes,
    data: bytes,
    digest_name: str | None = None,
) -> bool:
    """Whether ``signature`` over ``data`` verifies; ``WeakAlgorithm`` when the algorithms are not allowed.

    ``digest_name`` overrides the digest for CMS, where the signature algorithm may be plain
    ``rsaEncryption`` and the digest is the SignerInfo's ``digestAlgorithm``.
    """
    key = public_key(info)
    mechanism = algorithm.signature_algo
    if mechanism == "rsassa_pss":
        params = algorithm["parameters"]
        hash_name = params["hash_algorithm"]["algorithm"].native
        chosen = DIGESTS.get(hash_name)
        if chosen is None:
            raise WeakAlgorithm(f"digest {hash_name} is not allowed")
        scheme: padding.AsymmetricPadding = padding.PSS(
            mgf=padding.MGF1(DIGESTS.get(params["mask_gen_algorithm"]["parameters"]["algorithm"].native, chosen)),
            salt_length=params["salt_length"].native,
        )
    else:
        name = digest_name or algorithm.hash_algo
        chosen = DIGESTS.get(name)
        if chosen is None:
            raise WeakAlgorithm(f"digest {name} is not allowed")
        scheme = padding.PKCS1v15()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if mechanism not in ("rsassa_pkcs1v15", "rsassa_pss"):
                return False
            key.verify(signature, data, scheme, chosen)
        else:
            if mechanism != "ecdsa":
                return False
            key.verify(signature, data, ec.ECDSA(chosen))
    except InvalidSignature:
        return False
    return True
