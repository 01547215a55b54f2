"""Draft rules: partial answers judged as the form would judge them, files kept by digest, finalise to sign.

A draft is the applicant's alone: its token (shown once, stored as a SHA-256) is the only way in,
and a wrong token finds nothing (404), as for submissions. Every write keeps the draft for another
full lifetime. Finalising issues a fresh nonce linked to the draft and returns the exact document
bytes to sign; intake deletes the draft when it consumes that nonce (``hooks.submitted``), in the
submission's own transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import Any, Final

import asyncpg
import msgspec

from forms import CompiledForm
from forms.errors import escape
from forms.schema import FieldSpec, FormSchema, GroupField
from service.audit import trail
from service.auth import tokens
from service.drafts import merge_patch, queries
from service.drafts.schemas import (
    DraftAttachmentOut,
    DraftCreated,
    DraftIn,
    DraftOut,
    UpgradeOut,
    UpgradeReport,
)
from service.mynumber import drafts as my_number_drafts
from service.mynumber.keystore import KeyStore
from service.problems import (
    FormInvalid,
    InvalidBody,
    MalformedBody,
    NotFound,
    TooLarge,
    Unauthenticated,
    VersionState,
)
from service.publishing.cache import CompiledForms
from service.submissions import queries as submission_queries
from service.submissions.attachments import content_problem, declared_attachments
from service.validation import FieldProblem
from signing import canonical

TOKEN_PREFIX: Final = "drf_"  # noqa: S105 - marks draft tokens for secret scanners, not a secret
#: Files one draft may hold; their total is bounded by the submission limit (they go in one request).
MAX_FILES: Final = 50
_decoder: Final = msgspec.json.Decoder()
_FILENAME_FORBIDDEN: Final = frozenset("/\\") | frozenset(chr(c) for c in range(0x20))


class DraftLimits(msgspec.Struct, frozen=True, kw_only=True):
    """What the draft rules need besides the connection: passed in, never global."""

    compiled: CompiledForms
    lifetime: dt.timedelta
    nonce_lifetime: dt.timedelta
    max_document_bytes: int
    max_file_bytes: int
    max_total_bytes: int
    my_number: KeyStore | None = None
    """個人番号 in a draft's answers are stored encrypted (issue #18); None: a draft cannot keep one."""


def _form(compiled: CompiledForms, schema: dict[str, Any], version: int, sha256: bytes | None) -> CompiledForm:
    return compiled.get(msgspec.convert(schema, FormSchema), version, sha256.hex() if sha256 else None)


def evaluate(
    form: CompiledForm, answers: dict[str, Any], uploaded: dict[str, queries.AttachmentRow]
) -> tuple[list[FieldProblem], list[str]]:
    """(errors of what is answered, pointers of what is missing), as intake would judge the answers.

    The form's collecting validator runs on the answers as they are: its ``required`` errors are what
    is still to do, the others are errors. A declared file that was not uploaded to the draft is to
    do; one whose answer names another media type than its upload is an error.
    """
    document = {"form_id": form.schema.id, "form_version": form.version, "answers": answers}
    errors: list[FieldProblem] = []
    todo: list[str] = []
    for error in form.collect(document):
        if error.code == "required":
            todo.append(error.pointer)
        else:
            errors.append(FieldProblem(pointer=error.pointer, code=error.code, detail=error.detail))
    broken = {e.pointer or "" for e in errors}
    for _path, pointer, answer in declared_attachments(form.schema, answers):
        if any(p == pointer or p.startswith(pointer + "/") for p in broken):
            continue
        upload = uploaded.get(str(answer.get("sha256")))
        if upload is None:
            todo.append(pointer)
        elif upload.size != answer.get("size"):
            errors.append(
                FieldProblem(pointer=f"{pointer}/size", code="mismatch", detail=f"the file is {upload.size} bytes")
            )
        elif upload.media_type != answer.get("media_type"):
            errors.append(
                FieldProblem(
                    pointer=f"{pointer}/media_type", code="media_type", detail=f"the file is {upload.media_type}"
                )
            )
    return errors, todo


def _attachment_out(draft_id: uuid.UUID, row: queries.AttachmentRow) -> DraftAttachmentOut:
    digest = row.sha256.hex()
    return DraftAttachmentOut(
        filename=row.filename,
        media_type=row.media_type,
        size=row.size,
        sha256=digest,
        href=f"/api/v1/drafts/{draft_id}/attachments/{digest}",
    )


async def _out(conn: asyncpg.Connection, row: queries.DraftRow, limits: DraftLimits) -> DraftOut:
    files = await queries.attachments(conn, row.id, MAX_FILES)
    form = _form(limits.compiled, row.schema, row.form_version, row.sha256)
    errors, todo = evaluate(form, row.answers, {f.sha256.hex(): f for f in files})
    latest = await queries.latest_published(conn, row.form_id)
    return DraftOut(
        draft_id=row.id,
        form_id=row.form_id,
        form_version=row.form_version,
        answers=row.answers,
        errors=errors,
        todo=todo,
        complete=not errors and not todo,
        attachments=[_attachment_out(row.id, f) for f in files],
        newer_version=latest.version if latest is not None and latest.version > row.form_version else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
    )


async def _load(
    conn: asyncpg.Connection,
    draft_id: uuid.UUID,
    token: str | None,
    *,
    lock: bool = False,
    limits: DraftLimits | None = None,
) -> queries.DraftRow:
    """The draft its token opens; with ``limits``, its answers as written (a 個人番号 decrypted)."""
    if token is None:
        raise Unauthenticated("Send the draft's token as a bearer token.")
    row = None if len(token) > 200 else await queries.draft(conn, draft_id, tokens.digest(token), lock=lock)
    if row is None:
        raise NotFound(f"There is no draft {draft_id}.")
    if limits is None:
        return row
    answers = await my_number_drafts.opened(conn, limits.my_number, row.form_id, row.schema, row.id, row.answers)
    return msgspec.structs.replace(row, answers=answers)


async def _stored(
    conn: asyncpg.Connection,
    limits: DraftLimits,
    form_id: str,
    schema: dict[str, Any],
    draft_id: uuid.UUID,
    answers: dict[str, Any],
) -> dict[str, Any]:
    """The answers as the database keeps them: a 個人番号 encrypted (issue #18)."""
    return await my_number_drafts.seal(conn, limits.my_number, form_id, schema, draft_id, answers)


def _bounded(answers: dict[str, Any], limits: DraftLimits) -> None:
    """Answers are signed as one document: a draft may not grow past the document limit."""
    size = len(canonical.encode(answers))
    if size > limits.max_document_bytes:
        raise TooLarge(f"The answers are {size} bytes as a document; the limit is {limits.max_document_bytes}.")


async def create(conn: asyncpg.Connection, data: DraftIn, limits: DraftLimits) -> DraftCreated:
    version = await queries.latest_published(conn, data.form_id)
    if version is None:
        raise NotFound(f"Form {data.form_id} has no published version.")
    _bounded(data.answers, limits)
    draft_id, token = uuid.uuid4(), tokens.generate(TOKEN_PREFIX)
    stored = await _stored(conn, limits, data.form_id, version.schema, draft_id, data.answers)
    await queries.insert_draft(conn, draft_id, tokens.digest(token), data.form_id, version.id, stored, limits.lifetime)
    row = await _load(conn, draft_id, token, limits=limits)
    await _audit(conn, "draft.created", draft_id, {"form_id": data.form_id, "form_version": version.version})
    return DraftCreated(
        draft_id=draft_id, draft_token=token, expires_at=row.expires_at, draft=await _out(conn, row, limits)
    )


async def _audit(conn: asyncpg.Connection, action: str, draft_id: uuid.UUID, details: dict[str, Any]) -> None:
    """On the audit trail: the draft by its id and its form, never its answers (personal data)."""
    await trail.record(
        conn, actor="applicant", role="applicant", agency=None, action=action, subject=str(draft_id), details=details
    )


async def show(conn: asyncpg.Connection, draft_id: uuid.UUID, token: str | None, limits: DraftLimits) -> DraftOut:
    return await _out(conn, await _load(conn, draft_id, token, limits=limits), limits)


async def patch(
    conn: asyncpg.Connection, draft_id: uuid.UUID, token: str | None, body: bytes, limits: DraftLimits
) -> DraftOut:
    """Apply a JSON Merge Patch to the draft's ``{"answers": {...}}``; only the answers can change."""
    row = await _load(conn, draft_id, token, lock=True, limits=limits)
    try:
        document = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedBody(f"The merge patch is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidBody(
            'A draft\'s merge patch is an object: {"answers": {...}}.',
            errors=[FieldProblem(pointer="", code="type", detail="must be an object")],
        )
    extra = [
        FieldProblem(pointer=f"/{escape(str(key))}", code="read_only", detail="only answers can be changed")
        for key in document
        if key != "answers"
    ]
    if extra:
        raise InvalidBody("Only the answers of a draft can be patched.", errors=extra)
    answers = merge_patch.apply(row.answers, document.get("answers", {}))
    if not isinstance(answers, dict):
        raise InvalidBody(
            "The answers must stay an object.",
            errors=[FieldProblem(pointer="/answers", code="type", detail="must be an object")],
        )
    _bounded(answers, limits)
    stored = await _stored(conn, limits, row.form_id, row.schema, row.id, answers)
    await queries.update_answers(conn, row.id, stored, row.form_version_id, limits.lifetime)
    return await _out(conn, await _load(conn, draft_id, token, limits=limits), limits)


async def delete(conn: asyncpg.Connection, draft_id: uuid.UUID, token: str | None) -> None:
    row = await _load(conn, draft_id, token)
    assert token is not None  # _load refuses a missing token
    await queries.delete_draft(conn, row.id, tokens.digest(token))
    await _audit(conn, "draft.deleted", row.id, {"form_id": row.form_id, "form_version": row.form_version})


def _filename_problem(filename: str) -> str | None:
    if not 1 <= len(filename) <= 255:
        return "must be 1 to 255 characters"
    if any(c in _FILENAME_FORBIDDEN for c in filename):
        return "must not contain slashes or control characters"
    return None


async def upload(
    conn: asyncpg.Connection,
    draft_id: uuid.UUID,
    token: str | None,
    filename: str,
    media_type: str,
    content: bytes,
    limits: DraftLimits,
) -> DraftAttachmentOut:
    """Keep a file for the draft by its SHA-256; the answer to put in the field is returned.

    The bytes must be what the upload declares (the check intake makes), each file within the
    intake limit, and all of a draft's files within the limit of the one request that submits them.
    """
    row = await _load(conn, draft_id, token, lock=True)
    if len(content) > limits.max_file_bytes:
        raise TooLarge(f"The file is {len(content)} bytes; the limit is {limits.max_file_bytes}.")
    problems = []
    if (problem := _filename_problem(filename)) is not None:
        problems.append(FieldProblem(pointer="/file/filename", code="filename", detail=problem))
    if (problem := content_problem(media_type, content)) is not None:
        problems.append(FieldProblem(pointer="/file", code="media_type", detail=problem))
    if problems:
        raise InvalidBody("The file cannot be kept as sent.", errors=problems)
    digest = hashlib.sha256(content).digest()
    files, total = await queries.attachment_totals(conn, row.id, digest)
    if files >= MAX_FILES:
        raise TooLarge(f"A draft holds at most {MAX_FILES} files; delete one first.")
    if total + len(content) > limits.max_total_bytes:
        raise TooLarge(
            f"The draft's files would total {total + len(content)} bytes; the limit is {limits.max_total_bytes}."
        )
    await queries.put_attachment(conn, row.id, digest, filename, media_type, content)
    # Stored as they are (still sealed: this row was read without opening its answers).
    await queries.update_answers(conn, row.id, row.answers, row.form_version_id, limits.lifetime)
    stored = queries.AttachmentRow(sha256=digest, filename=filename, media_type=media_type, size=len(content))
    return _attachment_out(row.id, stored)


def _digest(sha256: str) -> bytes:
    try:
        digest = bytes.fromhex(sha256)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise NotFound(f"There is no file {sha256[:64]} in this draft.")
    return digest


async def download(
    conn: asyncpg.Connection, draft_id: uuid.UUID, token: str | None, sha256: str
) -> tuple[str, str, bytes]:
    row = await _load(conn, draft_id, token)
    found = await queries.get_attachment(conn, row.id, _digest(sha256))
    if found is None:
        raise NotFound(f"There is no file {sha256} in this draft.")
    return found["filename"], found["media_type"], found["content"]


async def remove_attachment(conn: asyncpg.Connection, draft_id: uuid.UUID, token: str | None, sha256: str) -> None:
    row = await _load(conn, draft_id, token, lock=True)
    if not await queries.delete_attachment(conn, row.id, _digest(sha256)):
        raise NotFound(f"There is no file {sha256} in this draft.")


def carry(fields: list[FieldSpec], values: dict[str, Any], pointer: str) -> tuple[dict[str, Any], list[str]]:
    """The answers a version with ``fields`` has a field for (by id, group items alike), and the dropped pointers."""
    by_id = {spec.id: spec for spec in fields}
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in values.items():
        spec, here = by_id.get(key), f"{pointer}/{escape(key)}"
        if spec is None:
            dropped.append(here)
        elif isinstance(spec, GroupField) and isinstance(value, list):
            items: list[Any] = []
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    moved, lost = carry(spec.fields, item, f"{here}/{index}")
                    items.append(moved)
                    dropped += lost
                else:
                    items.append(item)
            kept[key] = items
        else:
            kept[key] = value
    return kept, dropped


async def upgrade(conn: asyncpg.Connection, draft_id: uuid.UUID, token: str | None, limits: DraftLimits) -> UpgradeOut:
    """Move the answers to the form's newest published version by field id, saying what did not survive.

    Answers the new version has no field for are dropped; the ones it has a field for move across
    unchanged, and those it does not accept as they are stay in the draft, reported as ``invalid``
    for the applicant to correct. Upgrading a draft already on the newest version changes nothing.
    """
    row = await _load(conn, draft_id, token, lock=True, limits=limits)
    latest = await queries.latest_published(conn, row.form_id)
    if latest is None or latest.version <= row.form_version:
        report = UpgradeReport(from_version=row.form_version, to_version=row.form_version, dropped=[], invalid=[])
        return UpgradeOut(upgrade=report, draft=await _out(conn, row, limits))
    form = _form(limits.compiled, latest.schema, latest.version, latest.sha256)
    answers, dropped = carry(form.schema.fields(), row.answers, "/answers")
    stored = await _stored(conn, limits, row.form_id, latest.schema, row.id, answers)
    await queries.update_answers(conn, row.id, stored, latest.id, limits.lifetime)
    draft = await _out(conn, await _load(conn, draft_id, token, limits=limits), limits)
    report = UpgradeReport(
        from_version=row.form_version, to_version=latest.version, dropped=dropped, invalid=draft.errors
    )
    return UpgradeOut(upgrade=report, draft=draft)


async def finalize(conn: asyncpg.Connection, draft_id: uuid.UUID, token: str | None, limits: DraftLimits) -> bytes:
    """The exact bytes to sign: the complete answers, the form version and a fresh nonce linked to the draft.

    Signed unchanged and posted to intake with the draft's files, they make a normal submission;
    intake then deletes the draft. Each call issues a new nonce (any one of them ends the draft).
    """
    row = await _load(conn, draft_id, token, lock=True, limits=limits)
    if row.version_status != "published":
        raise VersionState(
            f"Version {row.form_version} of {row.form_id} takes no new submissions; upgrade the draft first.",
            extensions={"form_version_status": row.version_status},
        )
    draft = await _out(conn, row, limits)
    if not draft.complete:
        problems = draft.errors + [FieldProblem(pointer=p, code="required", detail="is required") for p in draft.todo]
        count = len(problems)
        raise FormInvalid(
            f"The draft is not complete: {count} field{'s' if count != 1 else ''} need{'s' if count == 1 else ''} "
            "attention.",
            errors=problems,
            extensions={"todo": draft.todo},
        )
    nonce = await submission_queries.insert_nonce(
        conn, secrets.token_urlsafe(24), row.form_version_id, limits.nonce_lifetime
    )
    await queries.link_nonce(conn, nonce["nonce"], row.id)
    document = canonical.encode(
        {"form_id": row.form_id, "form_version": row.form_version, "nonce": nonce["nonce"], "answers": row.answers}
    )
    form = _form(limits.compiled, row.schema, row.form_version, row.sha256)
    # What intake will check, on the bytes it will get: never hand out a document it would refuse.
    if errors := form.validate(document):
        raise FormInvalid(
            "The draft's document is not valid.",
            errors=[FieldProblem(pointer=e.pointer, code=e.code, detail=e.detail) for e in errors],
        )
    await _audit(conn, "draft.finalised", row.id, {"form_id": row.form_id, "form_version": row.form_version})
    return document


async def purge_expired_drafts(conn: asyncpg.Connection, now: dt.datetime, batch: int) -> int:
    """Delete up to ``batch`` drafts that expired by ``now`` (with their files); returns how many.

    For the housekeeping job: call it in its own transaction until it returns less than ``batch``.
    Rows another transaction holds are skipped, to be taken by the next run.
    """
    return await queries.purge_expired(conn, now, batch)
