"""The HTTP/1.1 protocol ``shinsei serve`` runs: uvicorn's httptools protocol, with the request head bounded.

httptools (llhttp, in C) parses a request in a fraction of what h11 (pure Python) costs: on intake it
was a tenth of a submission's CPU (bench/ingest.py's profile). But uvicorn's httptools protocol keeps
whatever head a client sends (a URL or header lines of any length, megabytes of them), where h11 stops
at ``h11_max_incomplete_event_size``. This subclass restores that bound with the same setting, so the
choice of parser changes no limit:

* bytes fed while a request's head is still incomplete are counted, read by read; past the limit the
  connection gets a 431 problem and is closed (a client cannot make the server hold an unbounded head;
  a head that begins in the read that ended the previous request is counted from the next read);
* a head that arrives whole within one read is measured by ``BoundedBody`` (service/body.py), which
  sees the parsed headers and answers 431 the same way.

Everything else is uvicorn's: this relies on ``HttpToolsProtocol``'s parser callbacks
(``on_message_begin``, ``on_headers_complete``, ``on_message_complete``) and ``data_received``.
tests/service/test_http_server.py pins them against a live socket, so an upgrade that changes them
fails there.
"""

from __future__ import annotations

import os
from typing import Any, Final

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: uvicorn's own default for h11 (``h11_max_incomplete_event_size``), used when none is configured.
DEFAULT_HEAD_BYTES: Final = 16 * 1024


class BoundedHead(HttpToolsProtocol):
    """httptools with a bound on the request head still arriving (``h11_max_incomplete_event_size``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_limit: int = self.config.h11_max_incomplete_event_size or DEFAULT_HEAD_BYTES
        self._awaiting_head = True
        self._head_bytes = 0
        self._ended_in_read = False

    def data_received(self, data: bytes) -> None:
        self._ended_in_read = False
        super().data_received(data)
        if not self._awaiting_head or self.transport.is_closing():
            return
        if self._ended_in_read:
            # A head or a whole request ended in this read, and the next head may have begun in it: its
            # bytes in this read are not known, so counting starts with the next read (the bound is the
            # limit plus one read).
            self._head_bytes = 0
            return
        self._head_bytes += len(data)
        if self._head_bytes > self._head_limit:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_head = True

    def on_headers_complete(self) -> None:
        self._awaiting_head, self._head_bytes, self._ended_in_read = False, 0, True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # What follows on this connection is the next request's head; its bytes in this read are not known.
        self._awaiting_head, self._ended_in_read = True, True

    def _refuse_head(self) -> None:
        body = msgspec.json.encode(
            {
                "type": _problem_base_url() + "headers-too-large",
                "title": "The request headers are too large.",
                "status": 431,
                "detail": f"The request head is over the limit of {self._head_limit} bytes.",
            }
        )
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/problem+json\r\n"
            b"x-content-type-options: nosniff\r\n"
            b"content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n"
            b"cache-control: no-store\r\n"
            b"connection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        self.transport.close()


def _problem_base_url() -> str:
    """The configured problem prefix, read only when a head is refused.

    The protocol is made by uvicorn (in each worker process when there are several), which passes it
    only its own config; the app of that process reads its settings from the same environment.
    """
    from service.settings import Settings

    try:
        return Settings.from_env(os.environ).problem_base_url
    except Exception:  # noqa: BLE001 - a refusal must not fail on configuration the app already accepted
        return Settings().problem_base_url
