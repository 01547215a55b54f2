"""A back office's webhook receiver, in-process on 127.0.0.1: real HTTP, told when to fail or hang."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, Literal

import msgspec

Action = Literal["ok", "fail", "hang"]


class Arrival(msgspec.Struct, frozen=True, kw_only=True):
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    action: Action


class Receiver:
    """Answers each POST as ``behave(webhook_id, earlier arrivals of that id)`` says.

    ``ok``: 200; ``fail``: 500; ``hang``: an answer only after ``hang_seconds`` (longer than the
    sender waits). It can be stopped (connections refused) and started again on the same port.
    """

    def __init__(self, behave: Callable[[str, int], Action] = lambda _id, _n: "ok", hang_seconds: float = 2.0) -> None:
        self.behave = behave
        self.hang_seconds = hang_seconds
        self.arrivals: list[Arrival] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/shinsei"

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await self._server.wait_closed()
        self._server = None

    def accepted(self) -> list[Arrival]:
        """What the receiver answered 2xx to, in order of arrival."""
        return [a for a in self.arrivals if a.action == "ok"]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            webhook_id = headers.get("webhook-id", "")
            action = self.behave(webhook_id, sum(1 for a in self.arrivals if a.webhook_id == webhook_id))
            self.arrivals.append(Arrival(webhook_id=webhook_id, headers=headers, body=body, action=action))
            if action == "hang":
                await asyncio.sleep(self.hang_seconds)
            status = "500 Internal Server Error" if action == "fail" else "200 OK"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            return  # stopped while hanging: asyncio's stream callback would log a cancelled handler as an error
        finally:
            writer.close()
            self._handlers.discard(task)
