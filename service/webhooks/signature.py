"""Standard Webhooks signatures (https://www.standardwebhooks.com): what any receiver library verifies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import Final

PREFIX: Final = "whsec_"


def new_secret() -> str:
    """A signing secret as the specification writes one: ``whsec_`` and the base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(signing_secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>`` per secret.

    Several signatures are separated by spaces; a receiver accepts the message when any one matches,
    which is how a secret is rotated without a moment when the receiver rejects deliveries.
    """
    content = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), content, hashlib.sha256).digest()).decode() for s in signing_secrets
    )
