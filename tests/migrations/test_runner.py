"""The migration runner against a real, empty database."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from service import migrate
from service.settings import MIGRATIONS_DIR


def copy_migrations(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


async def tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


async def test_fresh_then_rerun_is_a_no_op(empty_db: str) -> None:
    migrations = migrate.discover(MIGRATIONS_DIR)
    conn = await asyncpg.connect(empty_db)
    try:
        applied = await migrate.upgrade(conn, migrations)
        assert [m.version for m in applied] == [m.version for m in migrations]
        assert {"agency", "procedure", "api_token", "schema_migration"} <= await tables(conn)
        ledger = await conn.fetch("SELECT version, checksum FROM schema_migration ORDER BY version")
        assert [(r["version"], r["checksum"]) for r in ledger] == [(m.version, m.checksum) for m in migrations]

        assert await migrate.upgrade(conn, migrations) == []
        state = await migrate.status(conn, migrations)
        assert state.pending == [] and len(state.applied) == len(migrations)
    finally:
        await conn.close()


async def test_new_file_is_applied_in_its_own_transaction(empty_db: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    conn = await asyncpg.connect(empty_db)
    try:
        await migrate.upgrade(conn, migrate.discover(directory))
        count = len(migrate.discover(directory))
        (directory / f"{count + 1:04d}_good.sql").write_text("CREATE TABLE good (id int);")
        (directory / f"{count + 2:04d}_broken.sql").write_text("CREATE TABLE broken (id int); SELECT 1/0;")
        migrations = migrate.discover(directory)
        with pytest.raises(asyncpg.DivisionByZeroError):
            await migrate.upgrade(conn, migrations)
        # The good file stays applied; the broken one left nothing behind.
        assert "good" in await tables(conn)
        assert "broken" not in await tables(conn)
        state = await migrate.status(conn, migrations)
        assert [m.name for m in state.pending] == ["broken"]
    finally:
        await conn.close()


async def test_changed_file_is_refused(empty_db: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    conn = await asyncpg.connect(empty_db)
    try:
        await migrate.upgrade(conn, migrate.discover(directory))
        first = directory / "0001_init.sql"
        first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
        with pytest.raises(migrate.MigrationError, match="0001_init was changed after it was applied"):
            await migrate.upgrade(conn, migrate.discover(directory))
        with pytest.raises(migrate.MigrationError):
            await migrate.status(conn, migrate.discover(directory))
    finally:
        await conn.close()


async def test_database_ahead_of_files_is_refused(empty_db: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    conn = await asyncpg.connect(empty_db)
    try:
        await migrate.upgrade(conn, migrate.discover(directory))
        await conn.execute("INSERT INTO schema_migration (version, name, checksum) VALUES (999, 'future', '\\x00')")
        with pytest.raises(migrate.MigrationError, match="ahead of this code"):
            await migrate.upgrade(conn, migrate.discover(directory))
    finally:
        await conn.close()


async def test_concurrent_start_applies_each_file_once(empty_db: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    # A slow migration widens the window in which two unlocked runners would collide.
    count = len(migrate.discover(directory))
    (directory / f"{count + 1:04d}_slow.sql").write_text("SELECT pg_sleep(0.3); CREATE TABLE slow (id int);")
    migrations = migrate.discover(directory)
    connections = [await asyncpg.connect(empty_db) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate.upgrade(c, migrations) for c in connections))
        applied = [m.version for result in results for m in result]
        assert sorted(applied) == [m.version for m in migrations]
        assert await connections[0].fetchval("SELECT count(*) FROM schema_migration") == len(migrations)
    finally:
        for c in connections:
            await c.close()


def test_file_names_and_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(migrate.MigrationError, match="expected migration 0002"):
        migrate.discover(tmp_path)
    (tmp_path / "0003_c.sql").unlink()
    (tmp_path / "2_Bad-Name.sql").write_text("SELECT 1;")
    with pytest.raises(migrate.MigrationError, match=r"NNNN_lowercase_name\.sql"):
        migrate.discover(tmp_path)
