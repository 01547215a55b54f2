"""Review endpoints: staff actions (guarded), and downloads open to the applicant's token as well."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any, Final, Literal

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from service import access
from service.access import STAFF
from service.auth.principal import Caller, allow, authenticate
from service.db import Conn
from service.mynumber import reveal as my_number_reveal
from service.mynumber.routes import Reason, Reveal
from service.review import bundle, service
from service.review.schemas import (
    AssignIn,
    AssignmentOut,
    ClerkSubmissionOut,
    CommentIn,
    CommentOut,
    DecisionIn,
    DecisionOut,
)
from service.services import Injected
from service.submissions import applicant, queries
from service.submissions.schemas import SubmissionOut

#: Decisions and comments are short JSON documents.
SMALL_BODY: Final = 64 * 1024


def _attachment(name: str) -> str:
    """Content-Disposition for any file name (RFC 6266 with RFC 8187 for non-ASCII names)."""
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name)}"


class ReviewController(Controller):
    """What the agency's staff do to an application."""

    path = "/api/v1/submissions"
    tags = ("review",)
    guards = [authenticate, allow(*STAFF)]  # noqa: RUF012 - Litestar reads this class attribute

    @post(
        "/{submission_id:uuid}/assign",
        summary="Assign to a clerk of the agency (agency admin)",
        status_code=HTTP_200_OK,
        request_max_body_size=SMALL_BODY,
    )
    async def assign(
        self, conn: Conn, principal: Caller, submission_id: FromPath[uuid.UUID], data: JSONBody[AssignIn]
    ) -> AssignmentOut:
        return await service.assign(conn, principal, submission_id, data.clerk)

    @post(
        "/{submission_id:uuid}/release",
        summary="Release back to the queue (agency admin, or the clerk holding it)",
        status_code=HTTP_200_OK,
    )
    async def release(self, conn: Conn, principal: Caller, submission_id: FromPath[uuid.UUID]) -> AssignmentOut:
        return await service.release(conn, principal, submission_id)

    @post(
        "/{submission_id:uuid}/decision",
        summary="Approve, reject or request a correction (If-Match: the ETag of the application as read)",
        description="Approval and rejection issue a decision notice signed by the agency (JSON + CMS, and a PAdES "
        "PDF), linked as `links.decision_notice`. 428 without If-Match, 412 when a newer revision arrived, 409 when "
        "the application's state does not allow the decision.",
        status_code=HTTP_200_OK,
        request_max_body_size=SMALL_BODY,
    )
    async def decide(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        services: Injected,
        principal: Caller,
        submission_id: FromPath[uuid.UUID],
        data: JSONBody[DecisionIn],
    ) -> Response[DecisionOut]:
        out, tag = await service.decide(
            conn, principal, submission_id, request.headers.get("if-match"), data, services.receipt_key,
            services.clock(), timestamper=services.timestamper,
        )  # fmt: skip
        return Response(out, headers={"ETag": tag})

    @post(
        "/{submission_id:uuid}/comments",
        summary="An internal note (never shown to the applicant)",
        status_code=HTTP_201_CREATED,
        request_max_body_size=SMALL_BODY,
    )
    async def comment(
        self, conn: Conn, principal: Caller, submission_id: FromPath[uuid.UUID], data: JSONBody[CommentIn]
    ) -> CommentOut:
        return await service.add_comment(conn, principal, submission_id, data.body)


class EvidenceController(Controller):
    """One application and its files: for its applicant (access token) and its agency's staff (API token)."""

    path = "/api/v1/submissions"
    tags = ("review",)

    @get(
        "/{submission_id:uuid}",
        summary="The application: status and timeline (applicant), or the full review view (agency staff)",
        description="With the applicant's access token: status, revisions, timeline, links. With a clerk's or "
        "agency admin's token: answers with labels, every signature's report, attachments, revision diffs, "
        "comments and audit events; opening it is recorded. The ETag is the latest revision's (If-Match of a "
        "decision).",
        tags=["submissions"],
    )
    async def get_submission(
        self, request: Request[Any, Any, Any], conn: Conn, services: Injected, submission_id: FromPath[uuid.UUID]
    ) -> Response[SubmissionOut | ClerkSubmissionOut]:
        who = await access.access(conn, submission_id, request.headers.get("authorization"))
        if who.staff is not None:
            view, tag = await service.clerk_view(conn, who, services.clock(), services.compiled_forms.registry)
            return Response(view, headers={"ETag": tag})
        row = await queries.submission(conn, submission_id)
        assert row is not None  # access found it
        return Response(await applicant.view(conn, row))

    @get("/{submission_id:uuid}/attachments/{sha256:str}", summary="An attached file, by its SHA-256")
    async def attachment(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        services: Injected,
        submission_id: FromPath[uuid.UUID],
        sha256: FromPath[str],
    ) -> Response[bytes]:
        who = await access.access(conn, submission_id, request.headers.get("authorization"))
        filename, media_type, content = await service.download_attachment(conn, who, sha256, services.attachments)
        return Response(content, media_type=media_type, headers={"Content-Disposition": _attachment(filename)})

    @get("/{submission_id:uuid}/decision-notice.json", summary="The decision notice (canonical JSON)")
    async def notice_json(
        self, request: Request[Any, Any, Any], conn: Conn, services: Injected, submission_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        return await _notice(request, conn, services, submission_id, "json")

    @get("/{submission_id:uuid}/decision-notice.p7s", summary="The agency's detached CMS over the decision notice")
    async def notice_p7s(
        self, request: Request[Any, Any, Any], conn: Conn, services: Injected, submission_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        return await _notice(request, conn, services, submission_id, "p7s")

    @get("/{submission_id:uuid}/decision-notice.pdf", summary="The decision notice as a PAdES-signed PDF (決定通知書)")
    async def notice_pdf(
        self, request: Request[Any, Any, Any], conn: Conn, services: Injected, submission_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        return await _notice(request, conn, services, submission_id, "pdf")

    @get(
        "/{submission_id:uuid}/bundle",
        summary="The evidence bundle (ZIP) to check the application offline",
        description="Document, signatures with their chains and the revocation data used, verification reports, "
        "attachments, receipts, the decision notice, and a README.txt with the OpenSSL and pyHanko commands.",
    )
    async def evidence_bundle(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        services: Injected,
        submission_id: FromPath[uuid.UUID],
        reveal: Reveal = False,
        reason: Reason = None,
    ) -> Response[bytes]:
        who = await access.access(conn, submission_id, request.headers.get("authorization"))
        # 個人番号 (issue #18): the signed document of such a form only with the permission and a reason.
        why = my_number_reveal.authorised(who.staff, reason)[1] if reveal else None
        data = await bundle.build(
            conn, who, await services.verifiers.current(conn), services.attachments, services.receipt_key,
            services.typeface, services.clock(), keys=services.my_number, reason=why,
        )  # fmt: skip
        return Response(
            data, media_type="application/zip", headers={"Content-Disposition": _attachment(f"{submission_id}.zip")}
        )


async def _notice(
    request: Request[Any, Any, Any],
    conn: Conn,
    services: Injected,
    submission_id: uuid.UUID,
    kind: Literal["json", "p7s", "pdf"],
) -> Response[bytes]:
    who = await access.access(conn, submission_id, request.headers.get("authorization"))
    content = await service.decision_notice(conn, who, kind, services.receipt_key, services.typeface)
    return Response(content, media_type=service.NOTICE_MEDIA[kind])
