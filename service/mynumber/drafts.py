"""A draft's 個人番号: encrypted in the draft's stored answers, in clear only for the draft's token holder.

An applicant's draft is not signed yet, so its answers may change at any time; each number in them is
stored as ``PREFIX`` + the base64 of its ciphertext (under the form's agency's data key, bound to the
draft and the answer's pointer) and opened again whenever the draft is read by its token.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any, Final

import asyncpg
import msgspec

from forms import FormSchema
from forms.components.my_number import answered, locations
from service.mynumber import queries
from service.mynumber.envelope import EnvelopeError
from service.mynumber.keystore import KeyStore, KeysUnavailable
from service.problems import MyNumberUnavailable

PREFIX: Final = "my-number-sealed:"


def _carrying(schema: dict[str, Any]) -> FormSchema | None:
    form = msgspec.convert(schema, FormSchema)
    return form if locations(form) else None


def _set(answers: dict[str, Any], pointer: str, value: str) -> None:
    """Put ``value`` at ``/answers/...`` (a top-level answer or one in a group's item)."""
    parts = pointer.split("/")[2:]
    target: Any = answers
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[parts[-1]] = value


def _context(draft_id: uuid.UUID, pointer: str) -> str:
    return f"draft/{draft_id}{pointer}"


async def seal(
    conn: asyncpg.Connection,
    keys: KeyStore | None,
    form_id: str,
    schema: dict[str, Any],
    draft_id: uuid.UUID,
    answers: dict[str, Any],
) -> dict[str, Any]:
    """The answers to store: each 個人番号 in them encrypted (answers of other forms are returned as they are)."""
    form = _carrying(schema)
    numbers = [(p, v) for p, v in answered(form, answers) if not v.startswith(PREFIX)] if form else []
    if not numbers:
        return answers
    if keys is None:
        raise MyNumberUnavailable("This draft carries a 個人番号 and the server has no key to protect it.")
    agency = await queries.form_agency(conn, form_id)
    sealed: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(answers))  # a deep copy
    try:
        for pointer, value in numbers:
            ciphertext = await keys.encrypt(conn, agency, value.encode(), _context(draft_id, pointer))
            _set(sealed, pointer, PREFIX + base64.b64encode(ciphertext).decode())
    except KeysUnavailable:
        raise MyNumberUnavailable("This draft carries a 個人番号 and the server has no key to protect it.") from None
    return sealed


async def opened(
    conn: asyncpg.Connection,
    keys: KeyStore | None,
    form_id: str,
    schema: dict[str, Any],
    draft_id: uuid.UUID,
    answers: dict[str, Any],
) -> dict[str, Any]:
    """The answers as the applicant wrote them: each stored 個人番号 decrypted."""
    form = _carrying(schema)
    numbers = [(p, v) for p, v in answered(form, answers) if v.startswith(PREFIX)] if form else []
    if not numbers:
        return answers
    if keys is None:
        raise MyNumberUnavailable("The server has no key to open this draft's 個人番号.")
    agency = await queries.form_agency(conn, form_id)
    clear: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(answers))
    try:
        for pointer, value in numbers:
            ciphertext = base64.b64decode(value.removeprefix(PREFIX))
            _set(clear, pointer, (await keys.decrypt(conn, agency, ciphertext, _context(draft_id, pointer))).decode())
    except (KeysUnavailable, EnvelopeError, ValueError):
        raise MyNumberUnavailable("This draft's 個人番号 cannot be opened with the configured keys.") from None
    return clear
