"""``GET /api/v1/submissions/{id}/answers/{pointer}``: one answer, and the reveal of a 個人番号."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import FromPath, QueryParameter

from service import access
from service.db import Conn
from service.mynumber import reveal as service
from service.mynumber.schemas import AnswerOut
from service.services import Injected

Reveal = Annotated[bool, QueryParameter(description="Show a 個人番号 in full (my_number:read and a reason).")]
Reason = Annotated[
    str | None,
    QueryParameter(max_length=500, description="Why the full 個人番号 is needed; audited."),
]


class AnswerController(Controller):
    path = "/api/v1/submissions"
    tags = ("review",)

    @get(
        "/{submission_id:uuid}/answers/{pointer:path}",
        summary="One answer of the latest revision; reveal=true shows a 個人番号 in full (my_number:read, a reason)",
        description="Without reveal the answer is shown as every view shows it (a 個人番号 masked). With "
        "`reveal=true` and a `reason`, a token granted `my_number:read` of the application's agency gets the full "
        "number, and the audit trail records who, when, which field and why. 403 without the permission, 400 "
        "without a reason, 404 for another agency's application or an answer that is not there (or was purged).",
    )
    async def answer(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        services: Injected,
        submission_id: FromPath[uuid.UUID],
        pointer: FromPath[Path],
        reveal: Reveal = False,
        reason: Reason = None,
        revision: Annotated[int | None, QueryParameter(ge=1, le=2_147_483_647)] = None,
    ) -> AnswerOut:
        who = await access.access(conn, submission_id, request.headers.get("authorization"))
        return await service.answer(
            conn, services.my_number, submission_id=submission_id, agency=who.agency, staff=who.staff,
            pointer="/answers/" + str(pointer).strip("/"), revision=revision, reveal=reveal, reason=reason,
            now=services.clock(),
        )  # fmt: skip
