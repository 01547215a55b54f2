"""Every operation's problem responses in the OpenAPI document, as ``application/problem+json``.

The handlers raise problems from many places (guards, the body reader, the transaction, services),
so the responses are derived from what each route is, in one place, rather than listed by hand on
fifty decorators where one would be forgotten.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute

from service.auth.principal import authenticate
from service.problems import PROBLEM_MEDIA_TYPE, Problem

#: What each status means here; the problem's ``type`` says which case (docs/problems.md).
DESCRIPTIONS: Final = {
    400: "Malformed: a parameter, the body (JSON, UTF-8, nesting) or the Authorization header.",
    401: "No valid bearer token: missing where required, or presented but unknown or revoked.",
    403: "The token's role or agency may not do this.",
    404: "No such object (another agency's objects are reported as absent).",
    408: "The request body did not arrive in time.",
    409: "The request conflicts with the current state.",
    410: "The application was purged at the end of its retention period; purged_at and links.tombstone say more.",
    412: "If-Match does not name the latest revision.",
    413: "The body, a part of it, or the number of parts is over the limit.",
    415: "The body's media type is not one this operation reads.",
    422: "The body parsed but is not valid; errors[] points at every offending field.",
    428: "If-Match is required.",
    429: "Too many requests from this address (an anonymous endpoint that creates state); see Retry-After.",
    431: "The request headers are too large.",
    500: "An unexpected failure; quote the instance when reporting it.",
    502: "A CRL or OCSP service did not give a usable answer.",
    503: "The database is down, frozen or out of connections; see Retry-After.",
}
_READS_NOTHING: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: Successful answers that are not JSON, by the end of their path: what the handler sets on its Response.
SUCCESS_MEDIA: Final = {
    "/receipt.json": ("application/json", "The receipt: canonical JSON, exactly the signed bytes."),
    "/receipt.p7s": ("application/pkcs7-signature", "The agency's detached CMS over the receipt."),
    "/receipt.pdf": ("application/pdf", "The receipt as a PAdES-signed PDF."),
    "/decision-notice.json": ("application/json", "The decision notice: canonical JSON, exactly the signed bytes."),
    "/decision-notice.p7s": ("application/pkcs7-signature", "The agency's detached CMS over the decision notice."),
    "/decision-notice.pdf": ("application/pdf", "The decision notice as a PAdES-signed PDF."),
    "/bundle": ("application/zip", "The evidence bundle."),
    "/attachments/{sha256}": ("*/*", "The file, with the media type it was declared with."),
    "/json-schema": ("application/schema+json", "JSON Schema (2020-12) of the answers document."),
    "/receipts/certificate": ("application/pem-certificate-chain", "The receipt signing chain, root last."),
}


def statuses(handler: HTTPRouteHandler, path: str) -> set[int]:
    """The problem statuses an operation can answer."""
    found = {400, 401, 404, 431, 500, 503}
    if handler.opt.get("credentials") == "ignored":  # /healthz, /readyz: no token, no parameters
        return {431, 500} | ({503} if path == "/readyz" else set())
    if authenticate in handler.resolve_guards() or path.startswith("/api/v1/submissions/{"):
        found |= {403}
    if not handler.http_methods <= _READS_NOTHING:
        found |= {403, 408, 409, 413, 415, 422}
    if path.endswith("/decision"):
        found |= {412, 428}
    if path.startswith("/api/v1/submissions/{") and not path.endswith("/retention"):
        found |= {410}  # the content of a purged application (service/retention)
    if path.startswith("/api/v1/trust/"):
        found |= {502}
    if handler.opt.get("rate_limited"):
        found |= {429}
    return found


def document_problems(app: Litestar) -> None:
    """Add the problem responses to every route handler; call before the schema is first served."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/schema"):
            continue
        for handler in route.route_handlers:
            specs = {
                status: ResponseSpec(
                    data_container=Problem,
                    media_type=PROBLEM_MEDIA_TYPE,
                    description=DESCRIPTIONS[status],
                    generate_examples=False,
                )
                for status in sorted(statuses(handler, route.path))
            }
            for suffix, (media_type, description) in SUCCESS_MEDIA.items():
                if route.path.endswith(suffix):
                    container = dict[str, Any] if media_type.endswith("json") else bytes
                    specs[handler.status_code] = ResponseSpec(
                        data_container=container,
                        media_type=media_type,
                        description=description,
                        generate_examples=False,
                    )
            if route.path == "/api/v1/queue/claim":
                specs[204] = ResponseSpec(data_container=None, description="Nothing waits unassigned.")
            handler.responses = {**specs, **(handler.responses or {})}
