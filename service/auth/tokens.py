"""Token material: generated with 256 bits of randomness, kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

PREFIX: Final = "shs_"
#: Longer than any token we issue: a longer one is refused before it is hashed or looked up.
MAX_LENGTH: Final = 200


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for anything else.

    The one parser of the header, for staff, applicant, draft and session tokens alike. The scheme
    is case-insensitive (RFC 9110 §11.1); an over-long token is no token.
    """
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_LENGTH:
        return None
    return token


def generate(prefix: str = PREFIX) -> str:
    """A new bearer token; the prefix makes leaked tokens easy to find with secret scanners.

    Staff tokens use ``shs_``; applicants' draft and session tokens have prefixes of their own.
    """
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> bytes:
    """The stored form of a token.

    A plain SHA-256 is enough: the token is 256 random bits, so there is nothing to brute-force
    that a slow password hash would protect, and lookups stay one index probe per request.
    """
    return hashlib.sha256(token.encode()).digest()
