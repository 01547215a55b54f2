"""Attachment storage behind a small interface (PostgreSQL now; object storage can be added) and sniffing."""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from typing import Any, Final, Protocol

import asyncpg
import msgspec
import structlog
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from forms.schema import AttachmentField, FormSchema, GroupField
from service.problems import form_invalid
from service.submissions import queries
from service.validation import FieldProblem
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
    """Where a stored attachment's bytes are read from (a later object store would implement this too)."""

    async def get(self, conn: asyncpg.Connection, revision_id: uuid.UUID, field: str) -> bytes | None: ...


class PostgresAttachments:
    """Content in the ``attachment`` row itself, inside the submission's transaction: never half-written.

    It is written once, by the revision's own INSERT (``queries.INSERT_REVISION``).
    """

    async def get(self, conn: asyncpg.Connection, revision_id: uuid.UUID, field: str) -> bytes | None:
        return await queries.attachment_content(conn, revision_id, field)


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


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    """An ``attachment`` part of the multipart body."""

    filename: str
    content_type: str
    content: bytes


def declared_attachments(schema: FormSchema, answers: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(field path, pointer, answer) for every attachment the document declares."""
    found = []
    for spec in schema.fields():
        value = answers.get(spec.id)
        if isinstance(spec, AttachmentField) and isinstance(value, dict):
            found.append((spec.id, f"/answers/{spec.id}", value))
        elif isinstance(spec, GroupField) and isinstance(value, list):
            for index, item in enumerate(value):
                for sub in spec.fields:
                    if (
                        isinstance(sub, AttachmentField)
                        and isinstance(item, dict)
                        and isinstance(item.get(sub.id), dict)
                    ):
                        found.append(
                            (f"{spec.id}/{index}/{sub.id}", f"/answers/{spec.id}/{index}/{sub.id}", item[sub.id])
                        )
    return found


def match_attachments(
    schema: FormSchema, answers: dict[str, Any], uploads: list[Upload]
) -> list[tuple[str, dict[str, Any], Upload]]:
    """Pair each declared file with an uploaded part by SHA-256 and size; every mismatch names its field."""
    by_digest = {(hashlib.sha256(u.content).hexdigest(), len(u.content)): u for u in uploads}
    used: set[tuple[str, int]] = set()
    paired, errors = [], []
    for path, pointer, answer in declared_attachments(schema, answers):
        key = (str(answer.get("sha256")), int(answer.get("size", -1)))
        upload = by_digest.get(key)
        if upload is None:
            errors.append(
                FieldProblem(
                    pointer=pointer, code="attachment_missing", detail="no uploaded file has this SHA-256 and size"
                )
            )
            continue
        used.add(key)
        if (problem := content_problem(str(answer.get("media_type")), upload.content)) is not None:
            errors.append(FieldProblem(pointer=pointer, code="media_type", detail=problem))
        paired.append((path, answer, upload))
    for key, upload in by_digest.items():
        if key not in used:
            errors.append(
                FieldProblem(
                    pointer="", code="attachment_extra", detail=f"{upload.filename!r} is not declared by the document"
                )
            )
    if errors:
        raise form_invalid(errors)
    return paired
