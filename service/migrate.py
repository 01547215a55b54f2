"""Forward-only SQL migrations, applied one transaction per file under an advisory lock."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from importlib.resources.abc import Traversable
from typing import Final, LiteralString

import asyncpg
import msgspec

#: Any constant will do as long as nothing else in the database uses it: "SHNS".
LOCK_KEY: Final = 0x53484E53
FILE_NAME: Final = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

CREATE_LEDGER: Final[LiteralString] = """
    CREATE TABLE IF NOT EXISTS schema_migration (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   bytea NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )"""
LOCK: Final[LiteralString] = "SELECT pg_advisory_xact_lock($1)"
LEDGER_EXISTS: Final[LiteralString] = "SELECT to_regclass('schema_migration') IS NOT NULL"
SELECT_APPLIED: Final[LiteralString] = (
    "SELECT version, name, checksum, applied_at FROM schema_migration ORDER BY version"
)
INSERT_APPLIED: Final[LiteralString] = "INSERT INTO schema_migration (version, name, checksum) VALUES ($1, $2, $3)"


class MigrationError(Exception):
    """The files and the database disagree; nothing was applied by the call that raised."""


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    sql: str
    checksum: bytes


class AppliedMigration(msgspec.Struct, frozen=True):
    version: int
    name: str
    checksum: bytes
    applied_at: dt.datetime


class MigrationStatus(msgspec.Struct, frozen=True):
    applied: list[AppliedMigration]
    pending: list[Migration]


def discover(directory: Traversable) -> list[Migration]:
    """Read ``NNNN_name.sql`` files; versions must run 1, 2, 3... with no gap or duplicate.

    ``directory`` is a folder or a package's resources (``importlib.resources.files``), so the
    migrations shipped inside an installed wheel are found as well as those of a source tree.
    """
    migrations = []
    for path in sorted((p for p in directory.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        match = FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lowercase_name.sql")
        data = path.read_bytes()
        migrations.append(Migration(int(match["version"]), match["name"], data.decode(), hashlib.sha256(data).digest()))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(f"expected migration {expected:04d}, found {migration.version:04d}_{migration.name}")
    return migrations


def _check(applied: list[AppliedMigration], migrations: list[Migration]) -> None:
    by_version = {m.version: m for m in migrations}
    for row in applied:
        file = by_version.get(row.version)
        if file is None:
            raise MigrationError(
                f"the database has migration {row.version:04d}_{row.name}, which is not among the files: "
                "it is ahead of this code"
            )
        if file.checksum != row.checksum:
            raise MigrationError(f"migration {row.version:04d}_{row.name} was changed after it was applied")


async def _applied(conn: asyncpg.Connection) -> list[AppliedMigration]:
    if not await conn.fetchval(LEDGER_EXISTS):
        return []
    return [AppliedMigration(**dict(r)) for r in await conn.fetch(SELECT_APPLIED)]


async def status(conn: asyncpg.Connection, migrations: list[Migration]) -> MigrationStatus:
    applied = await _applied(conn)
    _check(applied, migrations)
    done = {a.version for a in applied}
    return MigrationStatus(applied=applied, pending=[m for m in migrations if m.version not in done])


async def upgrade(conn: asyncpg.Connection, migrations: list[Migration]) -> list[Migration]:
    """Apply what is pending; return what this call applied.

    Each file runs in its own transaction holding the advisory lock, and the ledger is re-read
    under the lock, so instances starting together apply each file exactly once. The checks
    run before any file, so a changed or unknown migration stops the upgrade with nothing done.
    """
    async with conn.transaction():
        await conn.execute(LOCK, LOCK_KEY)
        await conn.execute(CREATE_LEDGER)
        _check(await _applied(conn), migrations)
    done: list[Migration] = []
    for migration in migrations:
        async with conn.transaction():
            await conn.execute(LOCK, LOCK_KEY)
            applied = await _applied(conn)
            _check(applied, migrations)
            if any(a.version == migration.version for a in applied):
                continue
            await conn.execute(migration.sql)
            await conn.execute(INSERT_APPLIED, migration.version, migration.name, migration.checksum)
            done.append(migration)
    return done
