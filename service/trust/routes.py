"""Trust administration endpoints (platform admins)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, TypeAlias

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from service.auth.principal import Caller, allow, authenticate, require_role
from service.db import Conn
from service.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from service.settings import Settings
from service.trust import service
from service.trust.fetch import ask_ocsp, fetch_crl
from service.trust.schemas import AnchorIn, AnchorOut, CertificateIn, CertificateOut, CRLOut, OCSPOut, OCSPQuery

#: The app's settings, as create_app provides them.
AppSettings: TypeAlias = NamedDependency[Settings]


class TrustController(Controller):
    path = "/api/v1/trust"
    tags = ("trust",)
    guards = [authenticate, allow("admin")]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/anchors", summary="Trust anchors")
    async def list_anchors(
        self, conn: Conn, principal: Caller, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> Page[AnchorOut]:
        return await service.list_anchors(conn, principal, cursor, limit)

    @post("/anchors", summary="Add a trust anchor (CA certificates only)", status_code=HTTP_201_CREATED)
    async def add_anchor(
        self, conn: Conn, principal: Caller, data: JSONBody[AnchorIn], settings: AppSettings
    ) -> AnchorOut:
        return await service.add_anchor(conn, principal, data, test_anchors_allowed=settings.env == "development")

    @delete("/anchors/{anchor_id:uuid}", summary="Remove a trust anchor", status_code=HTTP_204_NO_CONTENT)
    async def remove_anchor(self, conn: Conn, principal: Caller, anchor_id: FromPath[uuid.UUID]) -> None:
        await service.remove_anchor(conn, principal, anchor_id)

    @get("/certificates", summary="Extra (link, rollover) certificates")
    async def list_certificates(
        self, conn: Conn, principal: Caller, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> Page[CertificateOut]:
        return await service.list_certificates(conn, principal, cursor, limit)

    @post("/certificates", summary="Add an extra certificate", status_code=HTTP_201_CREATED)
    async def add_certificate(self, conn: Conn, principal: Caller, data: JSONBody[CertificateIn]) -> CertificateOut:
        return await service.add_certificate(conn, principal, data)

    @get("/crls", summary="Stored CRLs")
    async def list_crls(
        self, conn: Conn, principal: Caller, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> Page[CRLOut]:
        return await service.list_crls(conn, principal, cursor, limit)

    @post(
        "/crls",
        summary="Upload a CRL",
        description='JSON `{"crl": "<PEM>"}`, or the DER body with `Content-Type: application/pkix-crl`.',
        status_code=HTTP_201_CREATED,
    )
    async def add_crl(self, request: Request[Any, Any, Any], conn: Conn, principal: Caller) -> CRLOut:
        data = service.crl_body(await request.body(), request.headers.get("content-type", "application/json"))
        return await service.add_crl(conn, principal, data, dt.datetime.now(dt.UTC))

    @post("/ocsp", summary="Ask the anchor's OCSP responder about a certificate now", status_code=HTTP_200_OK)
    async def query_ocsp(self, conn: Conn, principal: Caller, data: JSONBody[OCSPQuery]) -> OCSPOut:
        return await service.query_ocsp(conn, principal, data, ask_ocsp, dt.datetime.now(dt.UTC))

    @post("/crls/refresh", summary="Fetch CRLs from the anchors' URLs now", status_code=HTTP_200_OK)
    async def refresh(self, conn: Conn, principal: Caller) -> list[dict[str, Any]]:
        require_role(principal, "admin")
        return await service.refresh_crls(conn, fetch_crl, dt.datetime.now(dt.UTC))
