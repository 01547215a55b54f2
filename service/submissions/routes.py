"""Applicant endpoints: nonces, submission, status, receipts, withdrawal."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from service import access
from service.audit import trail
from service.auth import tokens
from service.db import Autocommit, Conn, provide_autocommit
from service.offload import cpu_bound
from service.pagination import VersionNumber
from service.problems import InvalidBody, TooLarge
from service.proxy import service as proxy
from service.services import Injected
from service.settings import Settings
from service.submissions import applicant, intake, multipart, queries, statements
from service.submissions.attachments import Upload
from service.submissions.schemas import NonceOut, SubmissionOut
from service.validation import FieldProblem

PROXY_PARTS = ("mandate", "mandate_signature", "statement", "statement_signature")


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    return tokens.bearer(request.headers.get("authorization"))


async def read_parts(request: Request[Any, Any, Any], settings: Settings) -> intake.Parts:
    """The multipart body: one ``document``, ``signature`` parts, ``attachment`` parts; each within its limit.

    The body is already in memory (``BoundedBody`` read it before the connection was taken).
    """
    body = await request.body()
    parts = await cpu_bound(  # tens of MiB of attachments take a while to split
        len(body),
        multipart.parse,
        request.headers.get("content-type", ""),
        body,
        max(settings.max_document_bytes, settings.max_file_bytes),
    )

    def content(part: multipart.Part, limit: int) -> bytes:
        if len(part.content) > limit:
            raise TooLarge(f"The {part.name} part is {len(part.content)} bytes; the limit is {limit}.")
        return part.content

    documents = [p for p in parts if p.name == "document"]
    if len(documents) != 1:
        raise InvalidBody(
            "Send exactly one document part.",
            errors=[FieldProblem(pointer="", code="document", detail=f"{len(documents)} document parts")],
        )
    document = content(documents[0], settings.max_document_bytes)
    multipart.check_document(document, settings.max_json_depth)
    signatures = [content(p, settings.max_document_bytes) for p in parts if p.name == "signature"]
    multipart.refuse_repeated(signatures)
    uploads = [
        Upload(
            filename=p.filename or "",
            content_type=p.content_type or "application/octet-stream",
            content=content(p, settings.max_file_bytes),
        )
        for p in parts
        if p.name == "attachment"
    ]
    # Filing on someone's behalf: at most one of each (service.proxy judges them).
    on_behalf: dict[str, bytes] = {}
    for name in PROXY_PARTS:
        found = [p for p in parts if p.name == name]
        if len(found) > 1:
            raise InvalidBody(
                f"Send at most one {name} part.",
                errors=[FieldProblem(pointer=f"/{name}", code=name, detail=f"{len(found)} {name} parts")],
            )
        if found:
            on_behalf[name] = content(found[0], settings.max_document_bytes)
    return intake.Parts(
        document=document, signatures=signatures, attachments=uploads, proxy=proxy.Documents(**on_behalf)
    )


async def intake_context(services: Injected, conn: Conn) -> intake.Intake:
    settings: Settings = services.settings
    return intake.Intake(
        compiled=services.compiled_forms,
        verifier=await services.verifiers.current(conn),
        receipt_key=services.receipt_key,
        attachments=services.attachments,
        now=services.clock(),
        accept_test=settings.env == "development",
        confirmation_grace=dt.timedelta(seconds=settings.confirmation_grace_seconds),
        ask_ocsp=services.ask_ocsp,
        timestamper=services.timestamper,
        metrics=services.metrics,
        my_number=services.my_number,
    )


@post(
    "/api/v1/forms/{form_id:str}/versions/{number:int}/nonces",
    tags=["submissions"],
    summary="A single-use nonce to sign into the document",
    status_code=HTTP_201_CREATED,
)
async def create_nonce(conn: Conn, services: Injected, form_id: FromPath[str], number: VersionNumber) -> NonceOut:
    settings: Settings = services.settings
    return await intake.issue_nonce(conn, form_id, number, dt.timedelta(seconds=settings.nonce_lifetime_seconds))


def submissions_controller(settings: Settings) -> type[Controller]:
    """The controller, with the body limit of the settings (a route's limit is fixed when it is declared)."""
    limit = settings.max_submission_bytes

    class SubmissionController(Controller):
        path = "/api/v1/submissions"
        tags = ("submissions",)

        @post(
            "/",
            summary="Submit a signed application",
            description="multipart/form-data: `document` (the signed bytes), `signature` (a detached CMS per signer), "
            "`attachment` (one per declared file). Optional `Idempotency-Key` header.",
            request_max_body_size=limit,
            status_code=HTTP_201_CREATED,
            # Intake opens a transaction only when its writes take more than one statement.
            dependencies={"autocommit": Provide(provide_autocommit)},
        )
        async def submit(
            self, request: Request[Any, Any, Any], autocommit: Autocommit, services: Injected
        ) -> Response[Any]:
            parts = await read_parts(request, services.settings)
            body = await intake.submit(
                autocommit, parts, await intake_context(services, autocommit), request.headers.get("idempotency-key")
            )
            return Response(body, status_code=HTTP_201_CREATED)

        @post(
            "/{submission_id:uuid}/nonces",
            summary="A nonce for a withdrawal or an amendment",
            status_code=HTTP_201_CREATED,
        )
        async def nonce(
            self, request: Request[Any, Any, Any], conn: Conn, services: Injected, submission_id: FromPath[uuid.UUID]
        ) -> NonceOut:
            row = await access.applicant(conn, submission_id, _bearer(request))
            return await applicant.submission_nonce(
                conn, row, dt.timedelta(seconds=services.settings.nonce_lifetime_seconds)
            )

        @post(
            "/{submission_id:uuid}/withdraw",
            summary="Withdraw (取下げ): a signed request by the same applicant",
            request_max_body_size=limit,
            status_code=HTTP_200_OK,
        )
        async def withdraw(
            self, request: Request[Any, Any, Any], conn: Conn, services: Injected, submission_id: FromPath[uuid.UUID]
        ) -> SubmissionOut:
            row = await access.applicant(conn, submission_id, _bearer(request))
            parts = await read_parts(request, services.settings)
            return await applicant.withdraw(conn, row, parts, await intake_context(services, conn))

        @get("/{submission_id:uuid}/receipt.json", summary="The receipt (canonical JSON)")
        async def receipt_json(
            self, request: Request[Any, Any, Any], conn: Conn, submission_id: FromPath[uuid.UUID]
        ) -> Response[bytes]:
            latest = await _latest(conn, request, submission_id, "json")
            return Response(latest["receipt_json"], media_type="application/json")

        @get("/{submission_id:uuid}/receipt.p7s", summary="The agency's detached CMS over the receipt")
        async def receipt_p7s(
            self, request: Request[Any, Any, Any], conn: Conn, submission_id: FromPath[uuid.UUID]
        ) -> Response[bytes]:
            latest = await _latest(conn, request, submission_id, "p7s")
            return Response(latest["receipt_cms"], media_type="application/pkcs7-signature")

        @get("/{submission_id:uuid}/receipt.pdf", summary="The receipt as a PAdES-signed PDF (受付票)")
        async def receipt_pdf(
            self, request: Request[Any, Any, Any], conn: Conn, services: Injected, submission_id: FromPath[uuid.UUID]
        ) -> Response[bytes]:
            latest = await _latest(conn, request, submission_id, "pdf")
            pdf = await statements.receipt_pdf(conn, latest, services.receipt_key, services.typeface)
            return Response(pdf, media_type="application/pdf")

    return SubmissionController


async def _latest(conn: Conn, request: Request[Any, Any, Any], submission_id: uuid.UUID, kind: str) -> Any:
    """The latest revision's receipt, for the applicant or the agency's staff; the download is audited."""
    who = await access.access(conn, submission_id, request.headers.get("authorization"))
    latest = await conn.fetchrow(queries.SELECT_LATEST_REVISION, who.submission_id)
    assert latest is not None  # a submission always has a first revision
    await trail.record(
        conn, actor=who.actor, role=who.role, agency=who.agency, action="receipt.downloaded",
        subject=str(who.submission_id), details={"format": kind, "revision": latest["number"]},
    )  # fmt: skip
    return latest
