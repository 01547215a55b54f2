"""The agencies' data keys: made on first use, unwrapped once per process, re-wrapped on rotation.

A data key never changes once made (rotation re-wraps it; retiring it only stops new use), so an
unwrapped key can be kept in memory for the life of the process without ever going stale. A new key
is made and committed in a transaction of its own before anything is encrypted with it: a request
that later rolls back can never leave ciphertext naming a key the database does not have.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Final

import asyncpg
import msgspec

from service.mynumber import envelope, queries
from service.mynumber.envelope import Keyring

#: Opens a connection in a transaction of its own that commits when the block ends.
Transaction = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]
#: Keys re-wrapped per page of a rotation.
ROTATION_PAGE: Final = 100


class KeysUnavailable(Exception):
    """No master key is configured (production without ``SHINSEI_MY_NUMBER_MASTER_KEY_FILE``)."""


class RotationReport(msgspec.Struct, frozen=True, kw_only=True):
    master_key_id: str
    """The master key that now wraps every data key."""
    rewrapped: int
    already_current: int


class KeyStore:
    """Encrypts and decrypts 個人番号 values with their agency's data key."""

    def __init__(self, keyring: Keyring | None, transaction: Transaction | None = None) -> None:
        self.keyring = keyring
        self._transaction = transaction
        self._keys: dict[uuid.UUID, bytes] = {}
        self._current: dict[str, uuid.UUID] = {}

    def _ring(self) -> Keyring:
        if self.keyring is None:
            raise KeysUnavailable("no master key for 個人番号 is configured (SHINSEI_MY_NUMBER_MASTER_KEY_FILE)")
        return self.keyring

    async def _current_key(self, conn: asyncpg.Connection, agency: str) -> uuid.UUID:
        if (key_id := self._current.get(agency)) is not None:
            return key_id
        ring = self._ring()
        row = await queries.current_key(conn, agency)
        if row is None:
            if self._transaction is None:
                raise KeysUnavailable(f"agency {agency} has no data key yet and this key store cannot make one")
            async with self._transaction() as own:
                key_id, data_key = uuid.uuid4(), envelope.new_key()
                row = await queries.insert_key(
                    own, key_id, agency, ring.current.id, envelope.wrap(ring.current, data_key, agency, key_id)
                ) or await queries.current_key(own, agency)
            assert row is not None  # inserted, or another process's committed one
        self._keys.setdefault(row.id, envelope.unwrap(ring, row.master_key_id, row.wrapped, agency, row.id))
        self._current[agency] = row.id
        return row.id

    async def _data_key(self, conn: asyncpg.Connection, agency: str, key_id: uuid.UUID) -> bytes:
        if (data_key := self._keys.get(key_id)) is not None:
            return data_key
        row = await queries.get_key(conn, key_id, agency)
        if row is None:
            raise envelope.UnknownKey(f"data key {key_id} of {agency} is not in the database")
        data_key = envelope.unwrap(self._ring(), row.master_key_id, row.wrapped, agency, row.id)
        self._keys[key_id] = data_key
        return data_key

    async def encrypt(self, conn: asyncpg.Connection, agency: str, plaintext: bytes, context: str) -> bytes:
        """``plaintext`` under the agency's current data key, bound to ``context`` (say, the revision)."""
        key_id = await self._current_key(conn, agency)
        return envelope.encrypt(key_id, self._keys[key_id], plaintext, f"{agency}\x00{context}")

    async def decrypt(self, conn: asyncpg.Connection, agency: str, ciphertext: bytes, context: str) -> bytes:
        """The plaintext, or ``envelope.EnvelopeError``: a wrong key, agency or context, or tampered bytes."""
        data_key = await self._data_key(conn, agency, envelope.key_id_of(ciphertext))
        return envelope.decrypt(lambda _: data_key, ciphertext, f"{agency}\x00{context}")


async def rotate(conn: asyncpg.Connection, keyring: Keyring, *, new_data_keys: bool = False) -> RotationReport:
    """Re-wrap every data key under the keyring's current master key; the encrypted values stay as they are.

    Run in one transaction: either every key is wrapped by the new master key or none is, so the
    old one may be dropped from the key file once this has committed. ``new_data_keys`` also retires
    each agency's current data key: the next value an agency encrypts makes a fresh one (values
    already stored keep naming, and opening with, the key that made them).
    """
    rewrapped = current = 0
    after: uuid.UUID | None = None
    async with conn.transaction():
        while page := await queries.keys_after(conn, after, ROTATION_PAGE):
            for row in page:
                if row.master_key_id == keyring.current.id:
                    current += 1
                    continue
                master_id, wrapped = envelope.rewrap(keyring, row.master_key_id, row.wrapped, row.agency_code, row.id)
                await queries.rewrap_key(conn, row.id, master_id, wrapped)
                rewrapped += 1
            after = page[-1].id
        if new_data_keys:
            await queries.retire_current_keys(conn)
    return RotationReport(master_key_id=keyring.current.id, rewrapped=rewrapped, already_current=current)
