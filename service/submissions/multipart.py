"""A submission's multipart body, read from the bytes ``BoundedBody`` already holds: every part as bytes.

Litestar's form parser decodes parts without a filename as text (a Shift_JIS document became a 500)
and reports its part limit as a 400 ``about:blank``; the same ``multipart`` library it uses, driven
directly, gives the exact bytes of every part and a limit of our own.
"""

from __future__ import annotations

from typing import Final

import msgspec
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser, parse_options_header

from service.body import check_json_body
from service.problems import InvalidBody, MalformedBody, TooLarge, TooManyParts, UnsupportedMediaType
from service.validation import FieldProblem

#: A document, a signature per signer and an attachment per file: a real submission has a handful.
MAX_PARTS: Final = 100


class Part(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    filename: str | None
    content_type: str | None
    content: bytes


def parse(content_type: str, body: bytes, max_part_bytes: int) -> list[Part]:
    media_type, options = parse_options_header(content_type)
    if media_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "Send a submission as multipart/form-data with document, signature and attachment parts."
        )
    boundary = options.get("boundary")
    if not boundary:
        raise MalformedBody("The multipart/form-data Content-Type has no boundary.")
    parts: list[Part] = []
    segment: MultipartSegment | None = None
    data = bytearray()
    try:
        with PushMultipartParser(boundary, max_segment_count=MAX_PARTS, max_segment_size=max_part_bytes) as parser:
            for event in [*parser.parse(body), *parser.parse(b"")]:
                if isinstance(event, MultipartSegment):
                    segment, data = event, bytearray()
                elif event:
                    data += event
                elif segment is not None:
                    parts.append(
                        Part(
                            name=segment.name,
                            filename=segment.filename,
                            content_type=segment.content_type,
                            content=bytes(data),
                        )
                    )
                    segment = None
    except ParserLimitReached as exc:
        # The library says which limit only in words; these are its messages (multipart 1.x, 2.x).
        message = str(exc)
        if "segment count" in message:
            raise TooManyParts(f"A submission has at most {MAX_PARTS} parts.") from None
        if "maximum segment size" in message.lower():
            raise TooLarge(f"A part is larger than the limit of {max_part_bytes} bytes.") from None
        raise MalformedBody(f"The multipart/form-data body breaks a limit: {message}.") from None
    except ParserError as exc:
        raise MalformedBody(f"The multipart/form-data body is malformed: {exc}.") from None
    return parts


def check_document(document: bytes, max_depth: int) -> None:
    """The signed document is JSON text: UTF-8, and nested within the limit (400 otherwise)."""
    check_json_body(document, max_depth, "document")


def refuse_repeated(signatures: list[bytes]) -> None:
    """The same signature sent twice is one signer counted twice: refused, naming each repeat."""
    first: dict[bytes, int] = {}
    errors = []
    for i, signature in enumerate(signatures):
        if signature in first:
            detail = f"signature part {i + 1} repeats part {first[signature] + 1}"
            errors.append(FieldProblem(pointer="", parameter=f"signature[{i}]", code="duplicate", detail=detail))
        first.setdefault(signature, i)
    if errors:
        raise InvalidBody(f"{len(errors)} signature part(s) repeat another; send each signature once.", errors=errors)
