"""Attachment storage behind a small interface (PostgreSQL now; object storage can be added) and sniffing."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any, Final, LiteralString, Protocol

import asyncpg
import structlog
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from signing.trust import TrustStore

log = structlog.get_logger("shinsei.attachments")

#: Leading bytes of the types we can recognise; others are accepted as declared.
MAGIC: Final = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
)
RECOGNISABLE: Final = frozenset(kind for _, kind in MAGIC)


def sniff(content: bytes) -> str | None:
    return next((kind for magic, kind in MAGIC if content.startswith(magic)), None)


def content_problem(declared: str, content: bytes) -> str | None:
    """Why the bytes are not what the applicant declared (and signed), if they are not."""
    found = sniff(content)
    if found is not None and found != declared:
        return f"the file is {found}, not {declared}"
    if found is None and declared in RECOGNISABLE:
        return f"the file is not {declared}"
    if declared == "application/pdf":
        try:
            PdfFileReader(io.BytesIO(content), strict=False)
        except (PdfReadError, ValueError, KeyError, IndexError) as exc:
            return f"the PDF cannot be read: {type(exc).__name__}"
    return None


class AttachmentStore(Protocol):
    async def put(self, conn: asyncpg.Connection, revision_id: uuid.UUID, field: str, content: bytes) -> None: ...

    async def get(self, conn: asyncpg.Connection, revision_id: uuid.UUID, field: str) -> bytes | None: ...


PUT_CONTENT: Final[LiteralString] = "UPDATE attachment SET content = $3 WHERE revision_id = $1 AND field = $2"
GET_CONTENT: Final[LiteralString] = "SELECT content FROM attachment WHERE revision_id = $1 AND field = $2"


class PostgresAttachments:
    """Content in the ``attachment`` row itself: inside the submission's transaction, so never half-written."""

    async def put(self, conn: asyncpg.Connection, revision_id: uuid.UUID, field: str, content: bytes) -> None:
        await conn.execute(PUT_CONTENT, revision_id, field, content)

    async def get(self, conn: asyncpg.Connection, revision_id: uuid.UUID, field: str) -> bytes | None:
        content: bytes | None = await conn.fetchval(GET_CONTENT, revision_id, field)
        return content


async def pdf_signatures(content: bytes, store: TrustStore) -> list[dict[str, Any]] | None:
    """A signed PDF's own signatures, validated against the trust anchors and reported (not a reason to refuse).

    None when the file is not a PDF, carries no signature, or cannot be parsed. Parsing and hashing
    a file of up to tens of MiB is CPU work: it runs in a worker thread, on a loop of its own
    (pyHanko's validation is async but never waits here: fetching is off).
    """
    if not content.startswith(b"%PDF-"):
        return None
    try:
        return await asyncio.to_thread(asyncio.run, _pdf_reports(content, store))
    except Exception as exc:  # noqa: BLE001 - any parse failure of an applicant's file only means "no report"
        log.info("pdf_unreadable", error=type(exc).__name__)
        return None


async def _pdf_reports(content: bytes, store: TrustStore) -> list[dict[str, Any]] | None:
    reader = PdfFileReader(io.BytesIO(content), strict=False)
    embedded = reader.embedded_signatures
    if not embedded:
        return None
    context = ValidationContext(
        trust_roots=[a.certificate for a in store.anchors],
        other_certs=store.certificates,
        crls=list(store.crl_lists.values()),
        ocsps=list(store.ocsp_responses.values()),
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    reports = []
    for signature in embedded:
        status = await async_validate_pdf_signature(signature, signer_validation_context=context)
        reports.append(
            {  # plain str and bool: pyHanko's values are PDF string subclasses
                "field": str(signature.field_name),
                "intact": bool(status.intact),
                "valid": bool(status.valid),
                "trusted": bool(status.trusted),
                "coverage": str(status.coverage.name) if status.coverage else None,
                "signer": str(status.signing_cert.subject.human_friendly),
            }
        )
    return reports
