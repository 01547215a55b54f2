"""Structured JSON logs, and the one log line every request gets."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Final, cast

import msgspec
import structlog

from service.metrics.context import current as metrics_context
from service.settings import Settings

if TYPE_CHECKING:
    # Types only: every ``shinsei`` command configures logging, and Litestar is slow to import.
    from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

    from service.metrics.collectors import Metrics

REQUEST_ID_HEADER: Final = b"x-request-id"
#: A client's request id is echoed only when it is short and plain, so logs cannot be forged.
_VALID_REQUEST_ID: Final = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def _unknown(value: Any) -> str:
    # A library's log record may carry any object; its type is enough, and its text may hold personal data.
    return f"<{type(value).__name__}>"


_json: Final = msgspec.json.Encoder(enc_hook=_unknown)

access_log = structlog.get_logger("shinsei.access")


def _render(_: Any, __: str, event: dict[str, Any]) -> str:
    return _json.encode(event).decode()


def _summarise_exception(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A library's ``exc_info`` (asyncpg's pool warning while the database is down) as one field.

    The exception's type and the frames where it was raised, not its message, which may echo
    values (and a traceback object cannot be rendered as JSON at all).
    """
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        event["error"] = f"{exc_info[0].__module__}.{exc_info[0].__qualname__}"
    return event


def configure_logging(settings: Settings, level_name: str | None = None) -> None:
    """Send structlog and the standard library (uvicorn, asyncpg) to one JSON stream on stderr.

    stderr rather than stdout, so that commands like ``shinsei token create`` keep stdout for their output.
    ``level_name`` overrides ``settings.log_level``: the CLI's commands other than ``serve`` are quiet.
    """
    level = logging.getLevelName((level_name or settings.log_level).upper())
    renderer: Any = structlog.dev.ConsoleRenderer() if settings.log_format == "console" else _render
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _summarise_exception, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would duplicate ours, with the query string (which may hold personal data).
    logging.getLogger("uvicorn.access").disabled = True
    # pyHanko and certvalidator log signers' distinguished names at WARNING: personal data.
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # pgserver narrates every pg_ctl call at INFO; its warnings and errors still come through.
    logging.getLogger("pgserver").setLevel(max(level, logging.WARNING))


class RequestLog:
    """ASGI wrapper: request id in and out, one ``request`` line with status and duration.

    It wraps the application's outermost handler rather than being Litestar middleware, because
    Litestar runs middleware only for matched routes and 404/405 answers must be logged too.
    Only the path is logged: query strings and bodies may carry personal data.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Compared as text: litestar.enums.ScopeType would import all of Litestar into every command.
        if cast("str", scope["type"]) != "http":
            await self.app(scope, receive, send)
            return
        http = cast("HTTPScope", scope)
        request_id = b""
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER and _VALID_REQUEST_ID.match(value):
                request_id = value
                break
        request_id = request_id or uuid.uuid4().hex.encode()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        token = metrics_context.set(self.metrics)
        with structlog.contextvars.bound_contextvars(request_id=request_id.decode()):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                metrics_context.reset(token)
                seconds = time.perf_counter() - started
                access_log.info(
                    "request",
                    method=http["method"],
                    path=http["path"],
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )
                if self.metrics is not None:
                    # The route's template (set by Litestar's router on this scope), never the path:
                    # paths carry submission ids, and unmatched ones are whatever a client sent.
                    route = cast("dict[str, Any]", scope).get("path_template") or "unmatched"
                    self.metrics.request(http["method"], route, status, seconds)
