"""The test PKI's TSA and OCSP responder, served over real HTTP on 127.0.0.1 (TEST KEYS ONLY).

certomancer's own services (its time-stamper and OCSP responder for the architecture in
certomancer.yml) answer; the standard library's HTTP server carries the bytes, so the code under
test talks to them exactly as it would to a real TSA or responder. Nothing is mocked.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from asn1crypto import ocsp, tsp

from tests import pki

MAX_REQUEST: Final = 64 * 1024


class PKIServices:
    def __init__(self, base: str) -> None:
        self.base = base
        self.tsa_url = f"{base}/tsa"
        self.ocsp_url = f"{base}/ocsp"
        self.requests: list[str] = []


@contextmanager
def serve(at: dt.datetime | None = None) -> Iterator[PKIServices]:
    """Serve ``/tsa`` and ``/ocsp`` (the J-LIS-like gen2 responder); ``at`` pins their clock."""
    services: PKIServices

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(min(length, MAX_REQUEST))
            moment = at or dt.datetime.now(dt.UTC)
            registry = pki.arch().service_registry
            services.requests.append(self.path)
            if self.path == "/tsa":
                tsa = registry.summon_timestamper("tsa", moment)
                answer = tsa.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
                kind = "application/timestamp-reply"
            elif self.path == "/ocsp":
                responder = registry.summon_responder("jlis-gen2", at_time=moment)
                answer = responder.build_ocsp_response(ocsp.OCSPRequest.load(body)).dump()
                kind = "application/ocsp-response"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    services = PKIServices(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield services
    finally:
        server.shutdown()
        server.server_close()
