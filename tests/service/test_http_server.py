"""The httptools protocol with its head bound (service/http_server.py), over a real socket and uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import uvicorn

from service.http_server import BoundedHead
from tests.service.test_cli import free_port

LIMIT = 4096


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers how many header lines it got and the body's length."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = msgspec.json.encode({"headers": len(scope["headers"]), "body": len(body)})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(answer))]})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        echo, host="127.0.0.1", port=port, http=BoundedHead, h11_max_incomplete_event_size=LIMIT,
        log_config=None, lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def exchange(port: int, chunks: list[bytes], pause: float = 0.0) -> bytes:
    """Sends each chunk (pausing between them, so each is its own read), then reads until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                time.sleep(pause)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused and closed while we were still sending: its answer is read below
        received = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
        return received


def request(headers: int = 0, body: bytes = b"", path: str = "/") -> bytes:
    lines = b"".join(b"x-pad-%d: %s\r\n" % (i, b"a" * 90) for i in range(headers))
    return b"POST %s HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n%s\r\n%s" % (path.encode(), len(body), lines, body)


def test_a_head_trickled_past_the_limit_gets_a_431_problem_and_the_connection_closes(port: int) -> None:
    head = request(headers=200)  # ~20 KB of header lines, sent 1 KB a read
    reply = exchange(port, [head[i : i + 1024] for i in range(0, len(head), 1024)], pause=0.005)
    status, _, rest = reply.partition(b"\r\n")
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large", reply[:200]
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in headers
    assert b"x-content-type-options: nosniff" in headers
    problem = msgspec.json.decode(body)
    assert problem["status"] == 431 and problem["type"].endswith("/headers-too-large")
    assert str(LIMIT) in problem["detail"]


def test_a_url_that_never_ends_is_refused_too(port: int) -> None:
    reply = exchange(port, [b"GET /", *[b"a" * 1000] * 10], pause=0.005)
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]


def test_heads_under_the_limit_on_one_kept_alive_connection_each_get_their_answer(port: int) -> None:
    # Each head is ~2.3 KB, so only a counter that starts again with every request lets all three through,
    # and a large body after a head is not counted as head.
    one = request(headers=24, body=b"b" * 50_000)
    assert len(one) - 50_000 < LIMIT < 2 * (len(one) - 50_000)
    reply = exchange(port, [one, one, request(headers=24) + b""], pause=0.05)
    assert reply.count(b"HTTP/1.1 200 OK") == 3, reply[:300]
    assert reply.count(b'"body":50000') == 2


def test_pipelined_requests_in_one_read_are_all_answered(port: int) -> None:
    reply = exchange(port, [request(headers=10) * 3])
    assert reply.count(b"HTTP/1.1 200 OK") == 3, reply[:300]


def test_a_malformed_head_still_gets_uvicorns_400(port: int) -> None:
    reply = exchange(port, [b"NOT HTTP AT ALL\r\n\r\n"])
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]


def test_a_large_body_is_no_head_even_in_the_read_that_ends_it(port: int) -> None:
    body = b"b" * 300_000
    reply = exchange(port, [request(headers=2, body=body)[:-100_000], body[-100_000:]], pause=0.05)
    assert reply.startswith(b"HTTP/1.1 200 OK"), reply[:200]
    assert b'"body":300000' in reply
