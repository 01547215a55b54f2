"""RFC 3161 time-stamps over a CMS signature's value: CAdES-T's ``signature-time-stamp``.

The token's message imprint is the digest of the SignerInfo's ``signature`` OCTET STRING's value
(ETSI EN 319 122-1 §5.3), so it proves the signature existed at the token's time without touching
the signed bytes: the applicant's CMS stays byte-exact, and the token is kept beside it. pyHanko's
time-stamp client asks the TSA and its validator checks the token (signature, TSA certificate
with the critical timeStamping purpose, path to a trusted root, imprint).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import msgspec
from asn1crypto import cms, tsp, x509
from pyhanko.sign.general import extract_certificate_info
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext


class TimestampUnavailable(Exception):
    """The TSA did not answer, or answered with something that is not a token."""


class TimestampInvalid(Exception):
    """A token that does not prove what it claims."""


class SignatureTimestamp(msgspec.Struct, frozen=True, kw_only=True):
    token: bytes
    """The TimeStampToken (a CMS ContentInfo), DER."""
    time: dt.datetime
    """genTime: the signature existed then."""


def signature_value(signature: bytes) -> bytes:
    """The single SignerInfo's signature value: what a signature time-stamp covers."""
    signed = cms.ContentInfo.load(signature)["content"]
    value: bytes = signed["signer_infos"][0]["signature"].native
    return value


def token_time(token: bytes) -> dt.datetime:
    info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    if not isinstance(info, tsp.TSTInfo):
        raise TimestampInvalid("the token does not encapsulate a TSTInfo")
    time: dt.datetime = info["gen_time"].native
    return time


async def stamp(data: bytes, timestamper: TimeStamper) -> SignatureTimestamp:
    """A token over SHA-256 of ``data`` (a signature value, or any bytes)."""
    try:
        token = await timestamper.async_timestamp(hashlib.sha256(data).digest(), "sha256")
    except (TimestampRequestError, OSError, ValueError) as exc:
        raise TimestampUnavailable(str(exc) or type(exc).__name__) from None
    der = bytes(token.dump())
    return SignatureTimestamp(token=der, time=token_time(der))


async def stamp_signature(signature: bytes, timestamper: TimeStamper) -> SignatureTimestamp | None:
    """CAdES-T's token for one applicant CMS; None when the CMS does not parse (it will be refused)."""
    try:
        value = signature_value(signature)
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return await stamp(value, timestamper)


async def verify_token(token: bytes, data: bytes, roots: list[x509.Certificate]) -> dt.datetime:
    """The token's time, once it is shown to cover ``data`` and to come from a TSA under ``roots``."""
    try:
        signed = cms.ContentInfo.load(token)["content"]
        carried = extract_certificate_info(signed)
        extra = [carried.signer_cert, *carried.other_certs]
        context = ValidationContext(
            trust_roots=roots, other_certs=extra, allow_fetching=False, revocation_mode="soft-fail"
        )

        def expected(algorithm: str) -> bytes:
            return hashlib.new(algorithm, data).digest()

        status = await validate_tst_signed_data(signed, context, expected)
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampInvalid(f"not a time-stamp token: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - pyHanko's validation errors share no base class we can name
        raise TimestampInvalid(f"the token does not validate: {type(exc).__name__}: {exc}") from None
    if not status["intact"]:
        raise TimestampInvalid("the token's message imprint is not the digest of these bytes")
    if not status["valid"]:
        raise TimestampInvalid("the token's signature does not verify")
    if status.get("trust_problem_indic") is not None:
        raise TimestampInvalid("the TSA's certificate does not chain to a trusted root")
    return token_time(token)
