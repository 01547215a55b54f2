"""Revisions of forms that carry a 個人番号: sealed at intake, opened only where the number is needed.

The signed document is evidence, byte for byte, so it is encrypted whole (bound to its SHA-256, which
stays in clear beside it) rather than rewritten; the answers every view shows are kept beside it with
each number masked. Only signature verification, an authorised reveal and the evidence bundle for an
authorised requester open the document again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final

import asyncpg
import msgspec
import structlog

from forms import FormSchema
from forms.components.my_number import MASK, answered, locations, masked_answers
from service.audit import trail
from service.mynumber import queries
from service.mynumber.envelope import EnvelopeError
from service.mynumber.keystore import KeyStore, KeysUnavailable
from service.problems import MyNumberUnavailable

log = structlog.get_logger("shinsei.my_number")

#: What a purged number shows: nothing of it is left, not even the last four digits.
PURGED: Final = MASK + "****"
#: Revisions purged per transaction.
PURGE_BATCH: Final = 500


class Sealed(msgspec.Struct, frozen=True, kw_only=True):
    document: bytes
    """The signed bytes, encrypted whole: what ``revision.document`` holds."""
    answers: dict[str, Any]
    """The answers with every 個人番号 masked."""
    pointers: list[str]
    """Where the numbers are (``/answers/...``), for reveal and purge."""


def document_context(document_sha256: bytes) -> str:
    """What a document's ciphertext is bound to: its hash, kept in clear in the same row."""
    return f"revision-document/{document_sha256.hex()}"


def carries_my_number(schema: FormSchema) -> bool:
    return bool(locations(schema))


async def seal(
    conn: asyncpg.Connection,
    keys: KeyStore | None,
    agency: str,
    schema: FormSchema,
    document: bytes,
    answers: dict[str, Any],
    document_sha256: bytes,
) -> Sealed | None:
    """The sealed form of a document whose form has a ``my_number`` field; None for any other form."""
    if not carries_my_number(schema):
        return None
    try:
        if keys is None:
            raise KeysUnavailable("no key store")
        ciphertext = await keys.encrypt(conn, agency, document, document_context(document_sha256))
    except KeysUnavailable:
        raise MyNumberUnavailable(
            "This form carries a 個人番号 and the server has no key to protect it; the operator must configure one."
        ) from None
    return Sealed(
        document=ciphertext,
        answers=masked_answers(schema, answers),
        pointers=[pointer for pointer, _ in answered(schema, answers)],
    )


async def record(conn: asyncpg.Connection, revision_id: uuid.UUID, agency: str, sealed: Sealed) -> None:
    """After the revision's row is written (in the same transaction): mark it sealed, with its masked answers."""
    await queries.insert_sealed(conn, revision_id, agency, sealed.answers, sealed.pointers)


async def masked(conn: asyncpg.Connection, revision_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The masked answers of the sealed ones among these revisions; the others' documents are in clear."""
    return await queries.sealed_answers(conn, revision_ids)


async def opened(
    conn: asyncpg.Connection,
    keys: KeyStore | None,
    agency: str,
    revision_id: uuid.UUID,
    stored: bytes,
    document_sha256: bytes,
) -> bytes | None:
    """The signed bytes of a revision as they were received: decrypted if sealed; None once purged.

    For verification, an authorised reveal and an authorised requester's bundle only.
    """
    state = await queries.sealed_state(conn, revision_id)
    if state is None:
        return stored
    if state["purged_at"] is not None:
        return None
    try:
        if keys is None:
            raise KeysUnavailable("no key store")
        return await keys.decrypt(conn, agency, stored, document_context(document_sha256))
    except KeysUnavailable:
        raise MyNumberUnavailable("The server has no key to open this application's 個人番号.") from None


async def for_verification(
    conn: asyncpg.Connection,
    keys: KeyStore | None,
    agency: str,
    revision_id: uuid.UUID,
    stored: bytes,
    document_sha256: bytes,
) -> bytes | None:
    """The signed bytes for a background job to verify again; None when they cannot be had.

    Purged, or no key to open them: logged, the revision left as it is (a job must not stop for one).
    """
    try:
        document = await opened(conn, keys, agency, revision_id, stored, document_sha256)
    except (MyNumberUnavailable, EnvelopeError) as exc:
        log.warning("my_number_document_unopened", revision=str(revision_id), error=type(exc).__name__)
        return None
    if document is None:
        log.info("my_number_document_purged", revision=str(revision_id))
    return document


def _purged_answers(answers: dict[str, Any], pointers: list[str]) -> dict[str, Any]:
    """The masked answers with nothing of any number left."""
    result: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(answers))  # a deep copy of plain JSON
    for pointer in pointers:
        parts = pointer.split("/")[2:]  # "/answers/a/0/b" -> ["a", "0", "b"]
        target: Any = result
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target.get(part)
            if target is None:
                break
        if isinstance(target, dict) and parts[-1] in target:
            target[parts[-1]] = PURGED
    return result


async def purge_due(conn: asyncpg.Connection, now: dt.datetime, batch: int = PURGE_BATCH) -> int:
    """Purge the 個人番号 of every revision past its procedure's ``my_number.retain_days``; how many.

    The number goes, and with it the only bytes that held it (the encrypted document: its signatures
    can no longer be checked again, their reports at intake stay); the hash, signatures, receipts,
    masked answers and audit trail stay. Each purge is on the audit trail. Batches of ``batch`` rows,
    each in its own transaction, skipping rows another purger holds.
    """
    total = 0
    while True:
        async with conn.transaction():
            due = await queries.purge_due(conn, now, batch)
            for row in due:
                await queries.purge(conn, row.revision_id, _purged_answers(row.answers, row.pointers), now)
                await trail.record(
                    conn, actor="system", role="system", agency=row.agency_code, action="my_number.purged",
                    subject=str(row.submission_id), details={"revision": row.number, "fields": len(row.pointers)},
                    at=now,
                )  # fmt: skip
        total += len(due)
        if len(due) < batch:
            return total
