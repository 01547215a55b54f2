"""One answer of an application, and the only way to see a 個人番号 in full: asked for, allowed, with a reason.

Reading an answer shows it as every view does (a 個人番号 masked). ``reveal`` needs a token (or console
session) granted ``my_number:read`` of the application's agency and a reason; the document is then
decrypted for this request alone, and the audit trail records who, when, which field and why.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any, Final

import asyncpg
import msgspec

from forms import FormSchema
from forms.components.my_number import MASK
from forms.schema import FieldSpec, GroupField
from service.audit import trail
from service.auth.schemas import MY_NUMBER_READ, Principal
from service.mynumber import queries
from service.mynumber.documents import document_context
from service.mynumber.keystore import KeyStore, KeysUnavailable
from service.mynumber.schemas import AnswerOut
from service.problems import Forbidden, InvalidParameter, MyNumberUnavailable, NotFound
from service.validation import FieldProblem

#: Twelve digits in a row, whatever separates them: a reason must not carry the number it asks for.
_TWELVE_DIGITS: Final = re.compile(r"(?:[0-9０-９][\s\-ー－]*){12}")


def _field(schema: FormSchema, parts: list[str]) -> FieldSpec | None:
    """The field a pointer below ``/answers`` names: ``[field]`` or ``[group, index, field]``."""
    top = {spec.id: spec for spec in schema.fields()}
    if len(parts) == 1:
        return top.get(parts[0])
    group = top.get(parts[0])
    if len(parts) == 3 and isinstance(group, GroupField) and parts[1].isdigit():
        return next((sub for sub in group.fields if sub.id == parts[2]), None)
    return None


def _at(answers: dict[str, Any], parts: list[str]) -> Any:
    value: Any = answers
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(part)
    return value


def authorised(staff: Principal | None, reason: str | None) -> tuple[Principal, str]:
    """The member of staff and the reason, when they may see a 個人番号 in full: ``my_number:read`` and a reason."""
    if staff is None or not staff.may(MY_NUMBER_READ):
        raise Forbidden("Revealing a 個人番号 needs the my_number:read permission on your token.")
    return staff, _reason(reason)


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidParameter(
            "Say why you need the full 個人番号: a reason is required, and recorded.",
            errors=[FieldProblem(parameter="reason", code="required", detail="is required with reveal=true")],
        )
    if _TWELVE_DIGITS.search(text):
        raise InvalidParameter(
            "The reason must not contain a 個人番号 (it is kept on the audit trail).",
            errors=[FieldProblem(parameter="reason", code="contains_number", detail="must not contain 12 digits")],
        )
    return text


async def answer(
    conn: asyncpg.Connection,
    keys: KeyStore,
    *,
    submission_id: uuid.UUID,
    agency: str,
    staff: Principal | None,
    pointer: str,
    revision: int | None,
    reveal: bool,
    reason: str | None,
    now: dt.datetime,
) -> AnswerOut:
    """One answer of the latest revision (or the one numbered), masked unless revealed.

    ``staff`` is None for the applicant, who sees the answers as staff without the permission do. The
    caller has already judged access to the application (another agency's is a 404 before this).
    """
    revealer, text = authorised(staff, reason) if reveal else (None, "")
    source = await queries.answer_source(conn, submission_id, revision)
    parts = pointer.split("/")[2:] if pointer.startswith("/answers/") else []
    schema = msgspec.convert(source.schema, FormSchema) if source is not None else None
    spec = _field(schema, parts) if schema is not None and parts else None
    if source is None or spec is None:
        raise NotFound(f"Submission {submission_id} has no answer at {pointer}.")
    sealed = source.masked is not None
    answers = source.masked if source.masked is not None else msgspec.json.decode(source.document)["answers"]
    try:
        value = _at(answers, parts)
    except KeyError:
        raise NotFound(f"Submission {submission_id} has no answer at {pointer}.") from None
    kind = str(spec.__struct_config__.tag)
    is_number = sealed and pointer in (source.pointers or [])
    if revealer is None or not is_number:
        shown = value if kind != "my_number" else (value if str(value).startswith(MASK) else MASK + str(value)[-4:])
        return AnswerOut(
            pointer=pointer, revision=source.number, label=spec.label, type=kind, value=shown,
            display=str(shown), revealed=False,
        )  # fmt: skip
    if source.purged_at is not None:
        raise NotFound(f"The 個人番号 at {pointer} was purged on {source.purged_at.date()} (retention).")
    try:
        document = await keys.decrypt(conn, agency, source.document, document_context(source.document_sha256))
    except KeysUnavailable:
        raise MyNumberUnavailable("The server has no key to open this application's 個人番号.") from None
    number = _at(msgspec.json.decode(document)["answers"], parts)
    await trail.record(
        conn, actor=str(revealer.token_id), role=revealer.role, agency=agency, action="my_number.revealed",
        subject=str(submission_id), details={"revision": source.number, "pointer": pointer, "reason": text}, at=now,
    )  # fmt: skip
    return AnswerOut(
        pointer=pointer, revision=source.number, label=spec.label, type=kind, value=number,
        display=f"{number[:4]} {number[4:8]} {number[8:]}", revealed=True,
    )  # fmt: skip
