"""A real PostgreSQL for every test: one server per session, one database per test.

The template database is built by the real migration runner, so migrations are exercised on every
run; each test gets ``CREATE DATABASE ... TEMPLATE`` (about 60 ms) and its own pool on its own loop.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service import migrate
from service.app import create_app
from service.auth import service as auth_service
from service.auth.schemas import TokenIn
from service.catalog import service as catalog_service
from service.cli.files import read_catalog
from service.db import init_connection
from service.embedded import embedded_postgres
from service.settings import MIGRATIONS_DIR, SAMPLE_CATALOG, Settings
from signing.fonts import Typeface

TEMPLATE = f"shinsei_template_{os.getpid()}"


def dsn_for(dsn: str, database: str) -> str:
    """The same server, another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


@pytest.fixture(scope="session")
def server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    with embedded_postgres(tmp_path_factory.mktemp("pg") / "pgdata") as dsn:
        yield dsn


@pytest.fixture(scope="session")
def template(server_dsn: str) -> Iterator[str]:
    async def build() -> None:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
            await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(dsn_for(server_dsn, TEMPLATE))
        try:
            await migrate.upgrade(conn, migrate.discover(MIGRATIONS_DIR))
        finally:
            await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(build())
    yield TEMPLATE
    asyncio.run(drop())


async def create_database(server_dsn: str, template: str | None) -> str:
    name = "t_" + uuid.uuid4().hex[:16]
    admin = await asyncpg.connect(server_dsn)
    try:
        source = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{source}')
    finally:
        await admin.close()
    return name


async def drop_database(server_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db(server_dsn: str, template: str) -> AsyncIterator[str]:
    """DSN of a fresh, fully migrated database for this test alone."""
    name = await create_database(server_dsn, template)
    yield dsn_for(server_dsn, name)
    await drop_database(server_dsn, name)


@pytest.fixture
async def empty_db(server_dsn: str) -> AsyncIterator[str]:
    """DSN of an empty database (no migrations), for the migration runner's tests."""
    name = await create_database(server_dsn, None)
    yield dsn_for(server_dsn, name)
    await drop_database(server_dsn, name)


@pytest.fixture
async def conn(db: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, for arranging data and checking what the API wrote."""
    connection = await asyncpg.connect(db)
    await init_connection(connection)
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Local state for the app under test (its development receipt key), shared by the session."""
    return tmp_path_factory.mktemp("shinsei-data")


@pytest.fixture(scope="session")
def typeface(data_dir: Path) -> Typeface:
    """The PDFs' font, kept where the app under test keeps it: prepared once per run, whoever asks first."""
    return Typeface(data_dir / "fonts")


@pytest.fixture
def settings(db: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=db,
        pool_min_size=1,
        pool_max_size=4,
        data_dir=str(data_dir),
        crl_refresh_seconds=0,
        reverify_seconds=0,
        trust_recheck_seconds=0,  # trust changes made by a test are seen by its next request
    )


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
async def catalog(conn: asyncpg.Connection) -> None:
    """The sample catalogue (six agencies, the reform procedures), as `make run` loads it."""
    async with conn.transaction():
        await catalog_service.load_catalog(conn, read_catalog(SAMPLE_CATALOG))


class Tokens:
    """Issue bearer tokens straight through the service, as `shinsei token create` does."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def header(self, role: str, agency: str | None = None) -> dict[str, str]:
        issued = await auth_service.issue_token(self.conn, TokenIn(role=role, agency=agency))  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def tokens(conn: asyncpg.Connection, catalog: None) -> Tokens:
    return Tokens(conn)
