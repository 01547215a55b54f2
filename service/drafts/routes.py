"""Draft endpoints: save, resume (JSON Merge Patch), files, upgrade, finalise; the draft token as bearer."""

from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid
from typing import Any, Final

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from service.auth import tokens
from service.db import Conn
from service.drafts import service
from service.drafts.schemas import DraftAttachmentOut, DraftCreated, DraftIn, DraftOut, UpgradeOut
from service.problems import InvalidBody, UnsupportedMediaType
from service.ratelimit import service as ratelimit
from service.ratelimit.service import RateLimit, client_address
from service.services import Injected
from service.settings import Settings
from service.validation import FieldProblem

MERGE_PATCH: Final = "application/merge-patch+json"
#: Room for a multipart envelope around one file.
MULTIPART_OVERHEAD: Final = 64 * 1024


def _disposition(name: str) -> str:
    """Content-Disposition for any file name (RFC 6266 with RFC 8187 for non-ASCII names)."""
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name)}"


def _token(request: Request[Any, Any, Any]) -> str | None:
    return tokens.bearer(request.headers.get("authorization"))


async def _read_file(request: Request[Any, Any, Any]) -> tuple[str, str, bytes]:
    """The one ``file`` part of a multipart upload: its name, declared media type and bytes."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedMediaType("Upload a file as multipart/form-data with one file part.")
    form = await request.form()
    parts = form.getall("file") if "file" in form else []
    if len(parts) != 1 or not isinstance(parts[0], UploadFile):
        raise InvalidBody(
            "Send exactly one file part.",
            errors=[FieldProblem(pointer="/file", code="file", detail=f"{len(parts)} file parts")],
        )
    part = parts[0]
    return part.filename, part.content_type, await part.read()


def limits(services: Injected) -> service.DraftLimits:
    settings: Settings = services.settings
    return service.DraftLimits(
        compiled=services.compiled_forms,
        lifetime=dt.timedelta(days=settings.draft_lifetime_days),
        nonce_lifetime=dt.timedelta(seconds=settings.nonce_lifetime_seconds),
        max_document_bytes=settings.max_document_bytes,
        max_file_bytes=settings.max_file_bytes,
        max_total_bytes=settings.max_submission_bytes,
        my_number=services.my_number,
    )


def drafts_controller(settings: Settings) -> type[Controller]:
    """The controller, with the body limits of the settings (a route's limit is fixed when it is declared)."""
    document_limit = settings.max_document_bytes
    file_limit = settings.max_file_bytes + MULTIPART_OVERHEAD

    class DraftController(Controller):
        path = "/api/v1/drafts"
        tags = ("drafts",)

        @post(
            "/",
            summary="Save answers as a draft (partial answers are fine)",
            description="The answer lists `errors` in what is answered and `todo`, the pointers still missing. "
            "`draft_token` is shown once: send it as a bearer token to resume.",
            request_max_body_size=document_limit,
            status_code=HTTP_201_CREATED,
            rate_limited=True,
        )
        async def create(
            self, request: Request[Any, Any, Any], data: JSONBody[DraftIn], conn: Conn, services: Injected
        ) -> DraftCreated:
            # Anyone may save a draft: each address a bounded number a minute (SHINSEI_RATE_LIMIT_*).
            await ratelimit.take_turn(
                conn, ratelimit.DRAFTS, client_address(request), RateLimit.from_settings(services.settings),
                services.clock(),
            )  # fmt: skip
            return await service.create(conn, data, limits(services))

        @get("/{draft_id:uuid}", summary="The draft, its errors and what is still to do")
        async def show(
            self, request: Request[Any, Any, Any], conn: Conn, services: Injected, draft_id: FromPath[uuid.UUID]
        ) -> DraftOut:
            return await service.show(conn, draft_id, _token(request), limits(services))

        @patch(
            "/{draft_id:uuid}",
            summary="Change some answers (JSON Merge Patch, RFC 7396)",
            description=f'`Content-Type: {MERGE_PATCH}`, body `{{"answers": {{...}}}}`: members replace, '
            "`null` removes, arrays are replaced whole.",
            request_max_body_size=document_limit,
        )
        async def change(
            self, request: Request[Any, Any, Any], conn: Conn, services: Injected, draft_id: FromPath[uuid.UUID]
        ) -> DraftOut:
            if request.headers.get("content-type", "").split(";")[0].strip().lower() != MERGE_PATCH:
                raise UnsupportedMediaType(f"Send the changes as {MERGE_PATCH} (RFC 7396).")
            return await service.patch(conn, draft_id, _token(request), await request.body(), limits(services))

        @delete("/{draft_id:uuid}", summary="Discard the draft and its files")
        async def discard(self, request: Request[Any, Any, Any], conn: Conn, draft_id: FromPath[uuid.UUID]) -> None:
            await service.delete(conn, draft_id, _token(request))

        @post(
            "/{draft_id:uuid}/attachments",
            summary="Upload a file to the draft (kept by its SHA-256)",
            description="multipart/form-data with one `file` part. The answer for an attachment field is returned.",
            request_max_body_size=file_limit,
            status_code=HTTP_201_CREATED,
        )
        async def upload(
            self, request: Request[Any, Any, Any], conn: Conn, services: Injected, draft_id: FromPath[uuid.UUID]
        ) -> DraftAttachmentOut:
            filename, media_type, content = await _read_file(request)
            return await service.upload(
                conn, draft_id, _token(request), filename, media_type, content, limits(services)
            )

        @get("/{draft_id:uuid}/attachments/{sha256:str}", summary="A file of the draft")
        async def download(
            self, request: Request[Any, Any, Any], conn: Conn, draft_id: FromPath[uuid.UUID], sha256: FromPath[str]
        ) -> Response[bytes]:
            filename, media_type, content = await service.download(conn, draft_id, _token(request), sha256)
            return Response(content, media_type=media_type, headers={"Content-Disposition": _disposition(filename)})

        @delete("/{draft_id:uuid}/attachments/{sha256:str}", summary="Remove a file from the draft")
        async def remove(
            self, request: Request[Any, Any, Any], conn: Conn, draft_id: FromPath[uuid.UUID], sha256: FromPath[str]
        ) -> None:
            await service.remove_attachment(conn, draft_id, _token(request), sha256)

        @post(
            "/{draft_id:uuid}/upgrade",
            summary="Move the answers to the form's newest published version",
            status_code=HTTP_200_OK,
        )
        async def upgrade(
            self, request: Request[Any, Any, Any], conn: Conn, services: Injected, draft_id: FromPath[uuid.UUID]
        ) -> UpgradeOut:
            return await service.upgrade(conn, draft_id, _token(request), limits(services))

        @post(
            "/{draft_id:uuid}/finalize",
            summary="The exact document bytes to sign (with a fresh nonce)",
            description="Sign the body unchanged (a detached CMS) and post it to `/api/v1/submissions` with the "
            "draft's files; the draft is deleted when the submission is stored.",
            status_code=HTTP_200_OK,
        )
        async def finalize(
            self, request: Request[Any, Any, Any], conn: Conn, services: Injected, draft_id: FromPath[uuid.UUID]
        ) -> Response[bytes]:
            document = await service.finalize(conn, draft_id, _token(request), limits(services))
            return Response(document, media_type="application/json", headers={"Cache-Control": "no-store"})

    return DraftController
