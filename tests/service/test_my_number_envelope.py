"""Envelope encryption of 個人番号 with the real ``cryptography`` AES-GCM: what opens, and what must not."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest

from service.mynumber import envelope
from service.mynumber.envelope import Keyring, MasterKey, Tampered, UnknownKey

NUMBER = b"123456789018"
AGENCY = "MHLW"


def test_a_value_opens_with_its_key_and_context_only() -> None:
    key_id, data_key = uuid.uuid4(), envelope.new_key()
    sealed = envelope.encrypt(key_id, data_key, NUMBER, "MHLW/rev-1/answers/my_number")
    assert NUMBER not in sealed
    assert envelope.key_id_of(sealed) == key_id  # the key id travels with the ciphertext
    assert envelope.decrypt(lambda k: {key_id: data_key}[k], sealed, "MHLW/rev-1/answers/my_number") == NUMBER
    # Moved to another row or pointer: refused, not decrypted.
    with pytest.raises(Tampered):
        envelope.decrypt(lambda _: data_key, sealed, "MHLW/rev-2/answers/my_number")
    # Another data key (a wrong key for that id): refused.
    with pytest.raises(Tampered):
        envelope.decrypt(lambda _: envelope.new_key(), sealed, "MHLW/rev-1/answers/my_number")


def test_tampered_bytes_are_refused_wherever_they_are_changed() -> None:
    key_id, data_key = uuid.uuid4(), envelope.new_key()
    sealed = envelope.encrypt(key_id, data_key, NUMBER, "c")
    for index in (envelope.HEADER_BYTES - 1, envelope.HEADER_BYTES, len(sealed) - 1):
        changed = bytearray(sealed)
        changed[index] ^= 1
        with pytest.raises(Tampered):
            envelope.decrypt(lambda _: data_key, bytes(changed), "c")
    with pytest.raises(Tampered):
        envelope.decrypt(lambda _: data_key, sealed[:-1], "c")
    with pytest.raises(Tampered, match="not a ciphertext"):
        envelope.key_id_of(b"\x02" + sealed[1:])


def test_an_unknown_key_id_is_reported_as_such() -> None:
    key_id, data_key = uuid.uuid4(), envelope.new_key()
    sealed = envelope.encrypt(key_id, data_key, NUMBER, "c")
    changed = bytearray(sealed)
    changed[1:17] = uuid.uuid4().bytes

    def lookup(k: uuid.UUID) -> bytes:
        if k != key_id:
            raise UnknownKey(str(k))
        return data_key

    with pytest.raises(UnknownKey):
        envelope.decrypt(lookup, bytes(changed), "c")


def test_wrapping_binds_agency_and_key_id_and_needs_the_right_master() -> None:
    old, new = MasterKey(envelope.new_key()), MasterKey(envelope.new_key())
    key_id, data_key = uuid.uuid4(), envelope.new_key()
    wrapped = envelope.wrap(old, data_key, AGENCY, key_id)
    assert data_key not in wrapped and len(wrapped) == 60  # the migration's CHECK
    ring = Keyring([old])
    assert envelope.unwrap(ring, old.id, wrapped, AGENCY, key_id) == data_key
    with pytest.raises(Tampered):
        envelope.unwrap(ring, old.id, wrapped, "NTA", key_id)  # another agency's row
    with pytest.raises(Tampered):
        envelope.unwrap(ring, old.id, wrapped, AGENCY, uuid.uuid4())
    with pytest.raises(UnknownKey):
        envelope.unwrap(Keyring([new]), old.id, wrapped, AGENCY, key_id)  # master key not configured
    # A key of the same id but other bytes cannot be smuggled in: the id is the key's fingerprint.
    assert MasterKey(envelope.new_key()).id != old.id


def test_rotation_rewraps_the_same_data_key() -> None:
    old, new = MasterKey(envelope.new_key()), MasterKey(envelope.new_key())
    key_id, data_key = uuid.uuid4(), envelope.new_key()
    sealed_value = envelope.encrypt(key_id, data_key, NUMBER, "c")
    wrapped = envelope.wrap(old, data_key, AGENCY, key_id)
    master_id, rewrapped = envelope.rewrap(Keyring([new, old]), old.id, wrapped, AGENCY, key_id)
    assert master_id == new.id and rewrapped != wrapped
    # After rotation the old master key can go: the new one alone opens the data key, which opens the old value.
    opened = envelope.unwrap(Keyring([new]), new.id, rewrapped, AGENCY, key_id)
    assert envelope.decrypt(lambda _: opened, sealed_value, "c") == NUMBER


def test_key_file_parsing() -> None:
    first, second = envelope.new_key(), envelope.new_key()
    ring = envelope.parse_keyring(f"# current first\n{envelope.encode_key(first)}\n\n{envelope.encode_key(second)}\n")
    assert [k.id for k in ring.keys] == [MasterKey(first).id, MasterKey(second).id]
    assert ring.current.id == MasterKey(first).id
    assert envelope.encode_key(first) not in repr(ring.current)
    with pytest.raises(ValueError, match=r"line 1 .* not base64"):
        envelope.parse_keyring("not base64!\n")
    with pytest.raises(ValueError, match="16 bytes, not 32"):
        envelope.parse_keyring(envelope.encode_key(b"x" * 16))
    with pytest.raises(ValueError, match="at least one"):
        envelope.parse_keyring("# nothing\n")


def test_the_envelope_is_pure() -> None:
    """No database, nothing of service/: it can be reviewed (and reused) on its own."""
    source = Path(envelope.__file__).read_text()
    imported = {
        alias.name.split(".")[0] if isinstance(node, ast.Import) else (node.module or "").split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert "service" not in imported and "asyncpg" not in imported
    assert "cryptography" in imported
