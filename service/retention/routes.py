"""Retention endpoints: an application's standing (or tombstone), legal holds, lookup by receipt number."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

from litestar import Controller, Request, delete, get, put
from litestar.params import FromPath, JSONBody, PathParameter
from litestar.status_codes import HTTP_200_OK

from service.access import STAFF
from service.auth.principal import Caller, allow, authenticate
from service.db import Conn
from service.retention import holds, standing
from service.retention.schemas import HoldIn, HoldOut, RetentionOut
from service.services import Injected

#: A hold's body is one short reason.
SMALL_BODY: Final = 8 * 1024
ReceiptNumber = Annotated[str, PathParameter(max_length=64, pattern=r"^[A-Z][A-Z0-9-]{1,31}-\d{4}-\d{6,}$")]


class RetentionController(Controller):
    path = "/api/v1/submissions"
    tags = ("retention",)

    @get(
        "/{submission_id:uuid}/retention",
        summary="Retention: the rule, the end of the period, a legal hold, or the tombstone once purged",
        description="For the applicant (access token) and the agency's staff. After a purge this is what remains: "
        "receipt numbers, dates, final status, when it was purged and the SHA-256 of every object deleted.",
    )
    async def retention(
        self, request: Request[Any, Any, Any], conn: Conn, services: Injected, submission_id: FromPath[uuid.UUID]
    ) -> RetentionOut:
        staff = await standing.caller(conn, submission_id, request.headers.get("authorization"))
        return await standing.standing(conn, submission_id, staff, services.clock())

    @put(
        "/{submission_id:uuid}/hold",
        summary="Place a legal hold (agency admin): the application is kept past its retention until released",
        guards=[authenticate, allow(*STAFF)],
        status_code=HTTP_200_OK,
        request_max_body_size=SMALL_BODY,
    )
    async def place_hold(
        self,
        conn: Conn,
        services: Injected,
        principal: Caller,
        submission_id: FromPath[uuid.UUID],
        data: JSONBody[HoldIn],
    ) -> HoldOut:
        return await holds.place(conn, principal, submission_id, data.reason, services.clock())

    @delete(
        "/{submission_id:uuid}/hold",
        summary="Release the legal hold (agency admin)",
        guards=[authenticate, allow(*STAFF)],
        status_code=HTTP_200_OK,
    )
    async def release_hold(
        self, conn: Conn, services: Injected, principal: Caller, submission_id: FromPath[uuid.UUID]
    ) -> HoldOut:
        return await holds.release(conn, principal, submission_id, services.clock())


@get(
    "/api/v1/retention/receipts/{receipt_number:str}",
    tags=["retention"],
    summary="Match an old receipt: the application's retention standing, or its tombstone, by receipt number",
    guards=[authenticate, allow(*STAFF)],
)
async def by_receipt(conn: Conn, services: Injected, principal: Caller, receipt_number: ReceiptNumber) -> RetentionOut:
    return await standing.by_receipt(conn, principal, receipt_number, services.clock())
