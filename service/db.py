"""Connection pool and the per-request transaction."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Final, TypeAlias, cast

import asyncpg
import msgspec
from litestar.datastructures import State
from litestar.di import NamedDependency

from service.settings import Settings

_json_encoder: Final = msgspec.json.Encoder()
_json_decoder: Final = msgspec.json.Decoder()

#: A route parameter that receives the request's connection (inside its transaction).
Conn: TypeAlias = NamedDependency[asyncpg.Connection]


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
    pool = await asyncpg.create_pool(
        dsn,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        init=init_connection,
        reset=_keep_session,
        # Statements are prepared per connection; the cache keeps the hot ones parsed.
        statement_cache_size=256,
    )
    assert pool is not None  # create_pool only returns None when awaited lazily
    return pool


async def provide_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """One connection and one transaction per request.

    Litestar throws a handler's exception into this generator, so the transaction rolls back; and
    it finishes the generator before sending the response, so a 2xx is sent only after COMMIT.
    """
    pool: asyncpg.Pool = state.pool
    async with pool.acquire() as conn, conn.transaction():
        # The pool hands out a proxy that forwards every call to its Connection.
        yield cast("asyncpg.Connection", conn)
