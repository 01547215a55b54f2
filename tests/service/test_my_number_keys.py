"""The agencies' data keys in a real PostgreSQL: made once, committed first, re-wrapped by rotation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.db import init_connection
from service.mynumber import envelope
from service.mynumber.envelope import Keyring, MasterKey
from service.mynumber.keystore import KeyStore, KeysUnavailable, rotate
from service.mynumber.master_keys import DEVELOPMENT_KEY_FILE, load_keyring
from service.settings import Settings

NUMBER = b"123456789018"


def transactions(dsn: str) -> Any:
    @asynccontextmanager
    async def transaction() -> AsyncIterator[asyncpg.Connection]:
        c = await asyncpg.connect(dsn)
        await init_connection(c)
        try:
            async with c.transaction():
                yield c
        finally:
            await c.close()

    return transaction


class RequestFailed(Exception):
    pass


def ring(*keys: MasterKey) -> Keyring:
    return Keyring(keys)


@pytest.fixture
def old() -> MasterKey:
    return MasterKey(envelope.new_key())


@pytest.fixture
def new() -> MasterKey:
    return MasterKey(envelope.new_key())


async def test_a_key_is_made_once_and_committed_before_use(
    db: str, conn: asyncpg.Connection, catalog: None, old: MasterKey
) -> None:
    store = KeyStore(ring(old), transactions(db))
    made: list[bytes] = []
    with pytest.raises(RequestFailed):
        async with conn.transaction():  # the request's transaction, rolled back after the encryption
            made.append(await store.encrypt(conn, "MHLW", NUMBER, "rev-1"))
            raise RequestFailed
    [sealed] = made
    # The key was committed on its own: a later value names a key the database has.
    rows = await conn.fetch("SELECT id, agency_code, master_key_id, wrapped FROM my_number_key")
    assert [(r["id"], r["agency_code"], r["master_key_id"]) for r in rows] == [
        (envelope.key_id_of(sealed), "MHLW", old.id)
    ]
    # Another process (a fresh store) opens it; the data key is not in the row in clear.
    fresh = KeyStore(ring(old))
    assert await fresh.decrypt(conn, "MHLW", sealed, "rev-1") == NUMBER
    with pytest.raises(envelope.Tampered):
        await fresh.decrypt(conn, "MHLW", sealed, "rev-2")
    # Another agency asking for it finds no such key of its own (agency-scoped lookup).
    with pytest.raises(envelope.UnknownKey):
        await KeyStore(ring(old)).decrypt(conn, "NTA", sealed, "rev-1")
    # Without the master key that wrapped it, nothing opens.
    with pytest.raises(envelope.UnknownKey):
        await KeyStore(ring(MasterKey(envelope.new_key()))).decrypt(conn, "MHLW", sealed, "rev-1")


async def test_concurrent_first_use_makes_one_key(
    db: str, conn: asyncpg.Connection, catalog: None, old: MasterKey
) -> None:
    async def seal(n: int) -> bytes:
        c = await asyncpg.connect(db)
        try:
            return await KeyStore(ring(old), transactions(db)).encrypt(c, "NTA", NUMBER, f"rev-{n}")
        finally:
            await c.close()

    sealed = await asyncio.gather(*(seal(n) for n in range(5)))
    assert len({envelope.key_id_of(s) for s in sealed}) == 1
    assert await conn.fetchval("SELECT count(*) FROM my_number_key WHERE agency_code = 'NTA'") == 1


async def test_rotation_rewraps_keys_and_leaves_values_alone(
    db: str, conn: asyncpg.Connection, catalog: None, old: MasterKey, new: MasterKey
) -> None:
    store = KeyStore(ring(old), transactions(db))
    sealed = {agency: await store.encrypt(conn, agency, NUMBER, "x") for agency in ("MHLW", "NTA")}
    before = {r["id"]: r["wrapped"] for r in await conn.fetch("SELECT id, wrapped FROM my_number_key")}

    report = await rotate(conn, ring(new, old))
    assert (report.master_key_id, report.rewrapped, report.already_current) == (new.id, 2, 0)
    after = await conn.fetch("SELECT id, master_key_id, wrapped, rewrapped_at FROM my_number_key")
    assert {r["master_key_id"] for r in after} == {new.id}
    assert all(before[r["id"]] != r["wrapped"] and r["rewrapped_at"] is not None for r in after)
    # The old master key can now be dropped: the new one alone opens the values made before.
    for agency, value in sealed.items():
        assert await KeyStore(ring(new)).decrypt(conn, agency, value, "x") == NUMBER
    with pytest.raises(envelope.UnknownKey):
        await KeyStore(ring(old)).decrypt(conn, "MHLW", sealed["MHLW"], "x")
    # Running it again finds nothing to do.
    again = await rotate(conn, ring(new))
    assert (again.rewrapped, again.already_current) == (0, 2)


async def test_rotation_with_a_missing_old_key_changes_nothing(
    db: str, conn: asyncpg.Connection, catalog: None, old: MasterKey, new: MasterKey
) -> None:
    await KeyStore(ring(old), transactions(db)).encrypt(conn, "MHLW", NUMBER, "x")
    await KeyStore(ring(new), transactions(db)).encrypt(conn, "NTA", NUMBER, "x")
    with pytest.raises(envelope.UnknownKey):
        await rotate(conn, ring(new))  # MHLW's key was wrapped by `old`, which this ring lacks
    assert {r["agency_code"]: r["master_key_id"] for r in await conn.fetch("SELECT * FROM my_number_key")} == {
        "MHLW": old.id,
        "NTA": new.id,
    }


async def test_new_data_keys_for_new_values_old_values_still_open(
    db: str, conn: asyncpg.Connection, catalog: None, old: MasterKey
) -> None:
    first = await KeyStore(ring(old), transactions(db)).encrypt(conn, "MHLW", NUMBER, "x")
    await rotate(conn, ring(old), new_data_keys=True)
    store = KeyStore(ring(old), transactions(db))
    second = await store.encrypt(conn, "MHLW", NUMBER, "y")
    assert envelope.key_id_of(first) != envelope.key_id_of(second)
    assert await store.decrypt(conn, "MHLW", first, "x") == NUMBER
    assert await conn.fetchval("SELECT count(*) FROM my_number_key WHERE retired_at IS NULL") == 1


async def test_without_a_master_key_nothing_is_encrypted(conn: asyncpg.Connection, catalog: None) -> None:
    with pytest.raises(KeysUnavailable):
        await KeyStore(None).encrypt(conn, "MHLW", NUMBER, "x")


def test_keyring_from_settings(tmp_path: Path) -> None:
    assert load_keyring(Settings(data_dir=str(tmp_path))) is None  # production: none invented
    development = load_keyring(Settings(env="development", data_dir=str(tmp_path)))
    assert development is not None
    path = tmp_path / "keys" / DEVELOPMENT_KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_keyring(Settings(env="development", data_dir=str(tmp_path)))
    assert again is not None and again.current.id == development.current.id  # made once, then kept
    given = tmp_path / "master.keys"
    key = envelope.new_key()
    given.write_text(envelope.encode_key(key) + "\n")
    configured = load_keyring(Settings(my_number_master_key_file=str(given), data_dir=str(tmp_path)))
    assert configured is not None and configured.current.id == MasterKey(key).id


async def test_the_rotation_command(db: str, conn: asyncpg.Connection, catalog: None, tmp_path: Path) -> None:
    from tests.service.test_cli import env_for, run

    old_secret, new_secret = envelope.new_key(), envelope.new_key()
    old, new = MasterKey(old_secret), MasterKey(new_secret)
    sealed = await KeyStore(ring(old), transactions(db)).encrypt(conn, "MHLW", NUMBER, "x")
    key_file = tmp_path / "master.keys"
    env = env_for(db, SHINSEI_MY_NUMBER_MASTER_KEY_FILE=str(key_file))

    key_file.write_text(envelope.encode_key(new_secret) + "\n")  # the old key dropped too early
    refused = await asyncio.to_thread(run, ["keys", "rotate-my-number"], env)
    assert refused.returncode == 1 and "nothing was changed" in refused.stderr, refused.stderr
    assert await conn.fetchval("SELECT master_key_id FROM my_number_key") == old.id

    key_file.write_text(f"{envelope.encode_key(new_secret)}\n{envelope.encode_key(old_secret)}\n")
    done = await asyncio.to_thread(run, ["keys", "rotate-my-number"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"1 data keys re-wrapped, 0 already under master key {new.id}")
    assert await KeyStore(ring(new)).decrypt(conn, "MHLW", sealed, "x") == NUMBER

    printed = await asyncio.to_thread(run, ["keys", "new-master-key"], env)
    assert len(envelope.parse_keyring(printed.stdout).keys) == 1
