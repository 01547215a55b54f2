"""Connection pool, the per-request transaction, and what a sick database looks like to a request."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final, TypeAlias, cast

import asyncpg
import msgspec
import structlog
from litestar.datastructures import State
from litestar.di import NamedDependency

from service.settings import Settings

_json_encoder: Final = msgspec.json.Encoder()
_json_decoder: Final = msgspec.json.Decoder()
log = structlog.get_logger("shinsei.db")

#: A route parameter that receives the request's connection (inside its transaction).
Conn: TypeAlias = NamedDependency[asyncpg.Connection]
#: A route parameter that receives a connection outside any transaction (``provide_autocommit``).
Autocommit: TypeAlias = NamedDependency[asyncpg.Connection]

#: Server errors that say the database cannot serve now, rather than that our request was wrong:
#: class 08 (connection), 53300 (too many connections), 57014 (statement_timeout), 57P01-03 (shutdown,
#: crash, starting up), 25P03 (idle_in_transaction_session_timeout).
_UNAVAILABLE: Final = (
    asyncpg.PostgresConnectionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.IdleInTransactionSessionTimeoutError,
)


class DatabaseUnavailable(Exception):
    """The pool had no connection to give within the acquire timeout."""


def unavailable_reason(exc: BaseException) -> str | None:
    """Why the database could not serve a request, or None when ``exc`` is not about its health.

    A frozen server surfaces as a client-side timeout (``command_timeout``, the acquire or connect
    timeout), a stopped one as a refused or lost connection, an overloaded one as SQLSTATE 53300.
    """
    if isinstance(exc, DatabaseUnavailable):
        return "pool-exhausted"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError | asyncpg.ConnectionDoesNotExistError):
        return "connection-lost"
    if isinstance(exc, OSError):
        return "unreachable"
    if isinstance(exc, asyncpg.QueryCanceledError):
        return "statement-timeout"
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return "too-many-connections"
    if isinstance(exc, _UNAVAILABLE):
        return type(exc).__name__
    # asyncpg says so in words only: an operation on a connection that the server or a timeout closed.
    if isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc):
        return "connection-closed"
    return None


def _encode_json(value: Any) -> str:
    return _json_encoder.encode(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Teach each new connection to move jsonb through msgspec (both directions)."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=_encode_json, decoder=_json_decoder.decode, format="text"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a released connection needs beyond asyncpg's own rollback of an open transaction: nothing.

    asyncpg's default reset is one more round trip per request (advisory unlock, CLOSE ALL, UNLISTEN,
    RESET ALL). shinsei leaves no session state behind: settings are ``SET LOCAL``, advisory locks are
    transaction-scoped, there are no LISTENs and no cursors outside a transaction.
    """


async def create_pool(settings: Settings, dsn: str) -> asyncpg.Pool:
    """A pool whose every wait is bounded, so a frozen server cannot hold a request for ever.

    ``statement_timeout`` is the server's bound and ends a statement cleanly; ``command_timeout``
    is the client's, for when the server cannot answer at all (stopped with SIGSTOP, or a lost
    network). ``timeout`` bounds opening a connection.
    """
    server_settings = {
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "idle_in_transaction_session_timeout": str(settings.db_idle_in_transaction_timeout_ms),
    }
    pool = await asyncpg.create_pool(
        dsn,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        init=init_connection,
        timeout=settings.db_connect_timeout_seconds,
        command_timeout=settings.db_command_timeout_seconds,
        server_settings=server_settings,
        reset=_keep_session,
        # Statements are prepared per connection; the cache keeps the hot ones parsed.
        statement_cache_size=256,
    )
    assert pool is not None  # create_pool only returns None when awaited lazily
    return pool


class Database:
    """The pool and its time limits: every checkout in the service goes through here."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.acquire_timeout = settings.pool_acquire_timeout_seconds
        self.command_timeout = settings.db_command_timeout_seconds

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection, waited for at most the acquire timeout; given back within the command timeout.

        The pool's ``acquire(timeout=...)`` also covers opening a connection when none is idle.
        A connection that cannot be reset in time (its server froze) is terminated rather than
        waited for: the pool opens a new one when the server is back.
        """
        try:
            proxy = await self.pool.acquire(timeout=self.acquire_timeout)
        except TimeoutError:
            raise DatabaseUnavailable(f"no database connection within {self.acquire_timeout:g} s") from None
        # The pool hands out a proxy that forwards every call to its Connection.
        conn = cast("asyncpg.Connection", proxy)
        try:
            yield conn
        finally:
            await self._release(proxy)

    async def _release(self, proxy: Any) -> None:
        try:
            await self.pool.release(proxy, timeout=self.command_timeout)
        except Exception as exc:  # noqa: BLE001 - the pool has already terminated it; the request's outcome stands
            log.warning("connection_dropped", reason=unavailable_reason(exc) or type(exc).__name__)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection outside any transaction: each statement commits when it returns.

        As with ``transaction``, a connection whose database failed (a timeout, a lost connection) is
        terminated rather than given back to wait on the same frozen server.
        """
        async with self.connection() as conn:
            try:
                yield conn
            except BaseException as exc:
                if unavailable_reason(exc) is not None:
                    conn.terminate()
                raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """One transaction: committed when the block ends, rolled back when it raises.

        When the failure is the database's own health (a timeout, a lost connection), the
        connection is terminated instead of rolled back: a ROLLBACK would wait on the same frozen
        server, and PostgreSQL rolls back a transaction whose connection went away.
        """
        async with self.connection() as conn:
            transaction = conn.transaction()
            try:
                await transaction.start()
            except BaseException as exc:
                if unavailable_reason(exc) is not None:
                    conn.terminate()
                raise
            try:
                yield conn
            except BaseException as exc:
                if unavailable_reason(exc) is not None:
                    conn.terminate()
                else:
                    await self._rollback(conn, transaction)
                raise
            await transaction.commit()

    @staticmethod
    async def _rollback(conn: asyncpg.Connection, transaction: Any) -> None:
        try:
            await transaction.rollback()
        except Exception as exc:  # noqa: BLE001 - the handler's own error is the one to report
            log.warning("rollback_failed", reason=unavailable_reason(exc) or type(exc).__name__)
            conn.terminate()


async def provide_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """One connection and one transaction per request.

    Litestar throws a handler's exception into this generator, so the transaction rolls back; and
    it finishes the generator before sending the response, so a 2xx is sent only after COMMIT (a
    COMMIT that fails or times out raises here, and the client gets a 503, not a 2xx).
    The exception thrown in is re-raised unchanged: Litestar would wrap a different one in an
    ExceptionGroup.
    """
    database: Database = state.database
    async with database.transaction() as conn:
        yield conn


async def provide_autocommit(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """One connection per request with no transaction around it, for a route that opens its own when needed.

    Intake's common case writes in one statement, which PostgreSQL commits as a whole when it returns:
    a BEGIN and a COMMIT around it would be two round trips that add no atomicity. A 2xx is still sent
    only after that statement (or the route's own transaction) has committed.
    """
    database: Database = state.database
    async with database.autocommit() as conn:
        yield conn
