"""Applicant endpoints: sign in with the card, list one's applications, sign out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from service.applicants import service
from service.applicants.schemas import ApplicantSubmission, ChallengeOut, SessionIn, SessionOut
from service.auth import tokens
from service.db import Conn
from service.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from service.ratelimit import service as ratelimit
from service.ratelimit.service import RateLimit, client_address
from service.services import Injected
from service.settings import Settings


def _token(request: Request[Any, Any, Any]) -> str | None:
    return tokens.bearer(request.headers.get("authorization"))


class ApplicantController(Controller):
    path = "/api/v1/applicant"
    tags = ("applicant",)

    @post(
        "/challenge",
        summary="A challenge to sign with the card's authentication key",
        status_code=HTTP_201_CREATED,
        rate_limited=True,
    )
    async def challenge(self, request: Request[Any, Any, Any], conn: Conn, services: Injected) -> ChallengeOut:
        # Anyone may ask: each address a bounded number a minute (SHINSEI_RATE_LIMIT_*).
        await ratelimit.take_turn(
            conn, ratelimit.CHALLENGES, client_address(request), RateLimit.from_settings(services.settings),
            services.clock(),
        )  # fmt: skip
        return await service.issue_challenge(conn)

    @post(
        "/session",
        summary="Sign in: the challenge signed with the card's authentication key (利用者証明用電子証明書)",
        description="The first time with a card, also send `link_signature`: the same document signed with the "
        "card's signing key, which says whose card it is. The session token is shown once.",
        status_code=HTTP_201_CREATED,
    )
    async def session(self, data: JSONBody[SessionIn], conn: Conn, services: Injected) -> SessionOut:
        settings: Settings = services.settings
        return await service.open_session(
            conn,
            data,
            await services.verifiers.current(conn),
            services.clock(),
            dt.timedelta(seconds=settings.applicant_session_seconds),
            accept_test=settings.env == "development",
        )

    @delete("/session", summary="Sign out")
    async def sign_out(self, request: Request[Any, Any, Any], conn: Conn) -> None:
        await service.close_session(conn, _token(request))

    @get("/submissions", summary="Every application signed by the signed-in card's holder, newest first")
    async def submissions(
        self, request: Request[Any, Any, Any], conn: Conn, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> Page[ApplicantSubmission]:
        return await service.list_submissions(conn, _token(request), cursor, limit)
