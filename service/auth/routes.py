"""Token administration endpoints (platform admins)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from service.auth import service
from service.auth.principal import Caller, allow, authenticate
from service.auth.schemas import IssuedToken, TokenIn, TokenOut
from service.db import Conn
from service.pagination import DEFAULT_LIMIT, Cursor, Limit, Page


class TokenController(Controller):
    path = "/api/v1/tokens"
    tags = ("tokens",)
    guards = [authenticate, allow("admin", "agency-admin")]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/", summary="List tokens (admin); secrets are never shown")
    async def list_tokens(
        self,
        conn: Conn,
        principal: Caller,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        agency: Annotated[str | None, QueryParameter(max_length=32, description="Only this agency's.")] = None,
    ) -> Page[TokenOut]:
        return await service.list_tokens(conn, principal, agency, cursor, limit)

    @post("/", summary="Issue a token (admin); the secret is in this response only", status_code=HTTP_201_CREATED)
    async def create_token(self, conn: Conn, principal: Caller, data: JSONBody[TokenIn]) -> IssuedToken:
        return await service.create_token(conn, principal, data)

    @delete("/{token_id:uuid}", summary="Revoke a token (admin)", status_code=HTTP_204_NO_CONTENT)
    async def revoke_token(self, conn: Conn, principal: Caller, token_id: FromPath[uuid.UUID]) -> None:
        await service.revoke_token(conn, principal, token_id)
