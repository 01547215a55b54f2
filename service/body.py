"""Read every request body in full, within its size and time limits, before the handler runs.

A handler's dependencies (the database connection, its transaction, the token lookup) are resolved
before the handler reads the body; a slow sender would hold a connection for as long as it
dribbles. Reading the body here first means a connection is taken only for a request whose bytes
have all arrived, so slow clients cost memory and a socket, never a pool slot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import parse_qsl

from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from forms.limits import LimitError, check_json
from service.offload import cpu_bound
from service.problems import HeadersTooLarge, InvalidParameter, MalformedBody, RequestTimeout, TooDeep, TooLarge
from service.validation import FieldProblem

_NO_BODY: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class BoundedBody:
    """Litestar middleware: buffer the body, refusing it when too large (413) or too slow (408).

    The time allowed grows with what has arrived: ``timeout + received / min_rate`` seconds since
    the request began, so a large upload on a slow but honest line still gets through while a
    client that stalls or trickles is cut off. The route's own ``request_max_body_size`` is the
    size limit; Litestar checks it again when the handler reads the replayed body.
    """

    def __init__(self, app: ASGIApp, *, timeout: float, min_rate: int, max_header_bytes: int) -> None:
        self.app, self.timeout, self.min_rate, self.max_header_bytes = app, timeout, min_rate, max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            # The server protocol (service/http_server.py) bounds a head that is still arriving; one that came
            # whole in a single read is measured here.
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.max_header_bytes:
                raise HeadersTooLarge(f"The request headers are {size} bytes; the limit is {self.max_header_bytes}.")
        if scope["type"] != ScopeType.HTTP or scope["method"] in _NO_BODY:
            await self.app(scope, receive, send)
            return
        handler: Any = scope["route_handler"]  # an HTTP route's handler, by the check above
        limit: int | None = handler.resolve_request_max_body_size()
        declared = _content_length(scope)
        if limit is not None and declared is not None and declared > limit:
            raise TooLarge(f"The request body exceeds the limit of {limit} bytes.")
        body = await self._read(receive, limit)
        if body is None:
            return  # the client went away: nobody to answer
        replayed = False

        async def replay() -> ReceiveMessage:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive, limit: int | None) -> bytes | None:
        chunks: list[bytes] = []
        received = 0
        started = time.monotonic()
        while True:
            allowed = self.timeout + received / self.min_rate - (time.monotonic() - started)
            if allowed <= 0:
                raise RequestTimeout(self._too_slow(received))
            try:
                async with asyncio.timeout(allowed):
                    message: Any = await receive()
            except TimeoutError:
                raise RequestTimeout(self._too_slow(received)) from None
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if limit is not None and received > limit:
                raise TooLarge(f"The request body exceeds the limit of {limit} bytes.")
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_slow(self, received: int) -> str:
        return (
            f"The request body came too slowly ({received} bytes so far): it must start within "
            f"{self.timeout:g} s and then average at least {self.min_rate} bytes per second."
        )


def request_checks(max_depth: int) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """The ``before_request`` hook: what every request's parameters and JSON body must be, before any parsing.

    Litestar runs it after the guards (so a caller without the role gets 403, not a parse error)
    and before the handler's parameters and body are decoded.
    """

    async def check(request: Request[Any, Any, Any]) -> None:
        _refuse_nul(request.scope)
        if request.method in _NO_BODY or not _is_json(request.scope):
            return
        body = await request.body()  # already in memory: BoundedBody read it
        if body:
            # Tens of ms for a body near 1 MiB: off the loop when large.
            await cpu_bound(len(body), check_json_body, body, max_depth)

    return check


def _refuse_nul(scope: Scope) -> None:
    """PostgreSQL text cannot hold NUL: a parameter with one is refused here rather than by the database."""
    names = []
    if "\x00" in scope["path"]:
        names.append("path")
    query: bytes = scope["query_string"]
    if b"\x00" in query or b"%00" in query:
        names.extend(
            name for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if "\x00" in name + value
        )
        names = names or ["query"]
    if names:
        raise InvalidParameter(
            f"Parameters may not contain a NUL character: {', '.join(names)}.",
            errors=[FieldProblem(parameter=name, code="nul", detail="contains a NUL character") for name in names],
        )


def check_json_body(body: bytes, max_depth: int, what: str = "body") -> None:
    """JSON text is UTF-8, nested within the limit, and free of NUL: 400 ``malformed-body`` or ``too-deep`` otherwise.

    The escaped NUL is valid JSON but cannot be stored in PostgreSQL text or jsonb.
    """
    if b"\\u0000" in body:
        raise MalformedBody(
            f"The {what} contains the NUL character (\\u0000), which text here cannot hold.",
            errors=[FieldProblem(pointer="", code="nul", detail="contains \\u0000")],
        )
    try:
        check_json(body, max_depth)
    except LimitError as exc:
        error = FieldProblem(pointer="", code=exc.code, detail=exc.detail)
        if exc.code == "depth":
            raise TooDeep(f"The {what} is {exc.detail}.", errors=[error]) from None
        raise MalformedBody(f"The {what} is {exc.detail}.", errors=[error]) from None


def _is_json(scope: Scope) -> bool:
    """A JSON body by its Content-Type, or one without any (Litestar reads a ``data`` body as JSON then)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json" or media_type.endswith(b"+json")
    return True


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
