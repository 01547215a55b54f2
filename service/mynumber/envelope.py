"""Envelope encryption with AES-256-GCM: pure functions, no database and nothing of ``service/``.

A *master key* (32 bytes, given by setting, never in the database) wraps one *data key* per agency;
the data key encrypts values. Every ciphertext starts with the id of the data key that made it, and
every wrapped data key is stored with the id of the master key that wrapped it, so a lookup never
guesses and rotating the master key re-wraps the few data keys without touching a single row.

Both layers bind their context as associated data: a value's ciphertext names the agency and where
it belongs (a submission, a pointer), a wrapped key names its agency and key id. A ciphertext copied
to another row, or a wrapped key to another agency, fails to open rather than decrypting quietly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import uuid
from collections.abc import Callable, Iterable
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
#: First byte of every value ciphertext: the layout below, so that a later one can be told apart.
FORMAT: Final = 1
#: FORMAT (1) + data key id (16) + nonce (12); the AES-GCM output (ciphertext + 16-byte tag) follows.
HEADER_BYTES: Final = 1 + 16 + NONCE_BYTES
_VALUE_AAD: Final = b"shinsei/my-number/value/v1\x00"
_WRAP_AAD: Final = b"shinsei/my-number/data-key/v1\x00"


class EnvelopeError(Exception):
    """A ciphertext that cannot be opened; the message says why, never what it holds."""


class UnknownKey(EnvelopeError):
    """The key a ciphertext names is not available (a wrong key id, or a master key not configured)."""


class Tampered(EnvelopeError):
    """The bytes, or the context they were bound to, are not what was encrypted."""


class MasterKey:
    """A key-encryption key; its id is a fingerprint, so the same key always has the same id."""

    __slots__ = ("_aead", "id")

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise ValueError(f"a master key is {KEY_BYTES} bytes, not {len(secret)}")
        # The id must not help guess the key: SHA-256 of a domain-separated 256-bit secret reveals nothing.
        self.id = hashlib.sha256(b"shinsei/my-number/master-key-id\x00" + secret).hexdigest()[:16]
        self._aead = AESGCM(secret)

    def __repr__(self) -> str:
        return f"MasterKey(id={self.id!r})"  # never the secret, whatever prints it

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        """Raises ``cryptography.exceptions.InvalidTag`` unless ``sealed`` came from ``seal`` with ``aad``."""
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


class Keyring:
    """The master keys a server knows: the first wraps new data keys, every one can unwrap."""

    def __init__(self, keys: Iterable[MasterKey]) -> None:
        self.keys = list(keys)
        if not self.keys:
            raise ValueError("a keyring needs at least one master key")
        self._by_id = {key.id: key for key in self.keys}

    @property
    def current(self) -> MasterKey:
        return self.keys[0]

    def get(self, key_id: str) -> MasterKey:
        try:
            return self._by_id[key_id]
        except KeyError:
            raise UnknownKey(f"master key {key_id} is not in the keyring") from None


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def encode_key(secret: bytes) -> str:
    """The text a key file holds: base64 (standard alphabet) of the 32 bytes."""
    return base64.b64encode(secret).decode()


def parse_keyring(text: str) -> Keyring:
    """A key file: one base64 key a line, the current one first; blank lines and ``#`` comments ignored.

    Rotation adds a new first line, restarts, re-wraps (``shinsei keys rotate-my-number``), and then
    drops the old line: the server can unwrap throughout.
    """
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            secret = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise ValueError(f"line {number} of the key file is not base64") from None
        if len(secret) != KEY_BYTES:
            raise ValueError(f"line {number} of the key file is {len(secret)} bytes, not {KEY_BYTES}")
        keys.append(MasterKey(secret))
    return Keyring(keys)


def _wrap_aad(agency: str, key_id: uuid.UUID) -> bytes:
    return _WRAP_AAD + agency.encode() + b"\x00" + key_id.bytes


def wrap(master: MasterKey, data_key: bytes, agency: str, key_id: uuid.UUID) -> bytes:
    """The data key encrypted under the master key: nonce + AES-GCM output."""
    return master.seal(data_key, _wrap_aad(agency, key_id))


def unwrap(keyring: Keyring, master_key_id: str, wrapped: bytes, agency: str, key_id: uuid.UUID) -> bytes:
    master = keyring.get(master_key_id)
    try:
        data_key = master.open(wrapped, _wrap_aad(agency, key_id))
    except InvalidTag:
        raise Tampered(f"data key {key_id} does not open with master key {master_key_id}") from None
    if len(data_key) != KEY_BYTES:
        raise Tampered(f"data key {key_id} has the wrong length")
    return data_key


def rewrap(keyring: Keyring, master_key_id: str, wrapped: bytes, agency: str, key_id: uuid.UUID) -> tuple[str, bytes]:
    """(the current master key's id, the data key wrapped by it): the same data key, a new wrapping."""
    data_key = unwrap(keyring, master_key_id, wrapped, agency, key_id)
    return keyring.current.id, wrap(keyring.current, data_key, agency, key_id)


def _value_aad(context: str) -> bytes:
    return _VALUE_AAD + context.encode()


def encrypt(key_id: uuid.UUID, data_key: bytes, plaintext: bytes, context: str) -> bytes:
    """``FORMAT || key id || nonce || AES-GCM(plaintext)``, bound to ``context`` (agency, row, pointer)."""
    nonce = os.urandom(NONCE_BYTES)
    return bytes([FORMAT]) + key_id.bytes + nonce + AESGCM(data_key).encrypt(nonce, plaintext, _value_aad(context))


def key_id_of(ciphertext: bytes) -> uuid.UUID:
    """The id of the data key a ciphertext needs (read from its header, nothing decrypted)."""
    if len(ciphertext) < HEADER_BYTES + 16 or ciphertext[0] != FORMAT:
        raise Tampered("not a ciphertext of this format")
    return uuid.UUID(bytes=ciphertext[1:17])


def decrypt(data_key_for: Callable[[uuid.UUID], bytes], ciphertext: bytes, context: str) -> bytes:
    """Open a ciphertext with the data key its header names (``data_key_for`` raises ``UnknownKey``)."""
    key_id = key_id_of(ciphertext)
    data_key = data_key_for(key_id)
    nonce = ciphertext[17:HEADER_BYTES]
    try:
        return AESGCM(data_key).decrypt(nonce, ciphertext[HEADER_BYTES:], _value_aad(context))
    except InvalidTag:
        raise Tampered(f"a ciphertext under data key {key_id} does not open in this context") from None
