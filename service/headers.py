"""Security headers on every response, whatever produced it (a route, a problem, a 404 or 405)."""

from __future__ import annotations

from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

#: Paths whose answers carry personal data: applications, their files, receipts, notices, bundles,
#: the clerks' queue, and token secrets (shown once). Neither a browser nor a proxy may keep them.
PERSONAL_PREFIXES: Final = ("/api/v1/submissions", "/api/v1/queue", "/api/v1/tokens")
#: The API answers data, never pages: nothing may load from it or frame it.
API_POLICY: Final = b"default-src 'none'; frame-ancestors 'none'"
#: /schema is Swagger UI: its script and style come from jsDelivr (Litestar's default), and its
#: bootstrap script is inline. It may not be framed (clickjacking).
DOCS_POLICY: Final = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://cdn.jsdelivr.net; "
    b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class SecurityHeaders:
    """ASGI wrapper: ``nosniff`` always; ``no-store`` where personal data or credentials are answered; a CSP.

    It wraps the outermost handler (as ``RequestLog`` does) so that answers from outside the
    matched routes, such as 404 and 405 problems, get the headers too.
    """

    def __init__(self, app: ASGIApp, allow: dict[str, bytes] | None = None) -> None:
        self.app = app
        #: Every method of each route template. Litestar builds a path's OPTIONS answer (and its
        #: 405's ``Allow``) from the first handler registered there, so GET went missing from
        #: paths whose GET and POST are separate handlers.
        self.allow = allow or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        private = path.startswith(PERSONAL_PREFIXES) or any(name == b"authorization" for name, _ in scope["headers"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                given = list(message.get("headers", ()))
                # A page that states its own policy (the console's) keeps it; everything else gets ours.
                own = [(k, v) for k, v in given if k.lower() in (b"content-security-policy", b"x-frame-options")]
                headers = [(k, v) for k, v in given if k.lower() not in _OURS]
                methods = self.allow.get(scope.get("path_template", ""))
                if methods is not None and any(k.lower() == b"allow" for k, _ in headers):
                    headers = [(k, v) for k, v in headers if k.lower() != b"allow"] + [(b"allow", methods)]
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                headers.append((b"x-content-type-options", b"nosniff"))
                if any(k.lower() == b"content-security-policy" for k, _ in own):
                    headers += own
                else:
                    headers.append((b"content-security-policy", DOCS_POLICY if html else API_POLICY))
                    if html:
                        headers.append((b"x-frame-options", b"DENY"))
                if private:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OURS: Final = frozenset({b"x-content-type-options", b"content-security-policy", b"x-frame-options"})
