"""RFC 9457 problem details: the one error shape of the API, and the handlers that produce it."""

from __future__ import annotations

import http
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import asyncpg
import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import ExceptionHandlersMap

from service.db import unavailable_reason
from service.litestar_internals import decoded_json, handler_parameters
from service.validation import FieldProblem, collect_problems, problems_from_litestar

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
log = structlog.get_logger("shinsei.problems")


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The body of every error response (RFC 9457 §3), with our ``errors`` extension."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] | None = None


class ProblemError(Exception):
    """An error the API reports as a problem; the class fixes ``type``, ``status`` and ``title``."""

    slug: ClassVar[str] = "internal-error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "The server could not complete the request."

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldProblem] | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})
        #: Extra members of the problem object (RFC 9457 §3.2), e.g. the state of a form version.
        self.extensions = dict(extensions or {})


class MalformedBody(ProblemError):
    slug, status, title = "malformed-body", 400, "The request body could not be parsed."


class InvalidParameter(ProblemError):
    slug, status, title = "invalid-parameter", 400, "A request parameter is not valid."


class Unauthenticated(ProblemError):
    slug, status, title = "unauthenticated", 401, "Authentication is required."

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="shinsei"'})


class AuthenticationFailed(ProblemError):
    """A card sign-in that does not verify: its ``report`` says which check failed."""

    slug, status, title = "authentication-failed", 401, "The sign-in could not be verified."

    def __init__(self, detail: str, *, extensions: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="shinsei"'}, extensions=extensions)


class CardNotLinked(ProblemError):
    """The card's authentication certificate names nobody until a signing certificate of the card vouches for it."""

    slug, status, title = "card-not-linked", 401, "This card is not linked to its holder yet."

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="shinsei"'})


class Forbidden(ProblemError):
    slug, status, title = "forbidden", 403, "You are not allowed to do this."


class NotFound(ProblemError):
    slug, status, title = "not-found", 404, "The resource was not found."


class MethodNotAllowed(ProblemError):
    slug, status, title = "method-not-allowed", 405, "The method is not allowed on this resource."


class Conflict(ProblemError):
    slug, status, title = "conflict", 409, "The request conflicts with the current state."


class Purged(ProblemError):
    """The application's content was deleted at the end of its retention period; its tombstone remains."""

    slug, status, title = "purged", 410, "The application was purged at the end of its retention period."


class PreconditionFailed(ProblemError):
    slug, status, title = "precondition-failed", 412, "The resource changed since you read it."


class PreconditionRequired(ProblemError):
    slug, status, title = "precondition-required", 428, "This request must be conditional (If-Match)."


class TooLarge(ProblemError):
    slug, status, title = "too-large", 413, "The request body is too large."


class UnsupportedMediaType(ProblemError):
    slug, status, title = "unsupported-media-type", 415, "The request body's media type is not supported."


class InvalidBody(ProblemError):
    slug, status, title = "validation", 422, "The request body is not valid."


class SchemaInvalid(ProblemError):
    slug, status, title = "schema-invalid", 422, "The form schema is not valid."


class FormInvalid(ProblemError):
    slug, status, title = "form-invalid", 422, "The form answers are not valid."


def form_invalid(errors: list[FieldProblem], **extensions: Any) -> FormInvalid:
    """A 422 naming every field that needs attention, with a count a person can read."""
    count = len(errors)
    return FormInvalid(
        f"{count} field{'s' if count != 1 else ''} need{'s' if count == 1 else ''} attention.",
        errors=errors,
        extensions=extensions,
    )


class VersionState(ProblemError):
    slug, status, title = "form-version-state", 409, "The form version is not in a state that allows this."


class NonceInvalid(ProblemError):
    slug, status, title = "nonce-invalid", 409, "The nonce is used, expired or not for this form version."


class DuplicateSubmission(ProblemError):
    slug, status, title = "duplicate-submission", 409, "These exact document bytes were already submitted."


class SignatureRejected(ProblemError):
    slug, status, title = "signature-rejected", 422, "The signatures do not meet the procedure's requirements."


class MandateRejected(ProblemError):
    slug, status, title = "mandate-rejected", 422, "The mandate does not allow this filing."


class IdempotencyMismatch(ProblemError):
    slug, status, title = "idempotency-mismatch", 422, "The Idempotency-Key was used for a different request."


class StateConflict(ProblemError):
    slug, status, title = "state-conflict", 409, "The application is not in a state that allows this."


class UpstreamFailed(ProblemError):
    slug, status, title = "upstream-failed", 502, "A service shinsei relies on did not give a usable answer."


class ServiceUnavailable(ProblemError):
    slug, status, title = "service-unavailable", 503, "The service is temporarily unavailable."

    def __init__(self, detail: str, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class TooManyRequests(ProblemError):
    slug, status, title = "too-many-requests", 429, "Too many requests from this address."

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class MyNumberUnavailable(ProblemError):
    """A 個人番号 would have to be encrypted or opened and the server has no master key (production without one)."""

    slug, status, title = "my-number-unavailable", 503, "個人番号 cannot be handled: no key is configured."


class RequestTimeout(ProblemError):
    slug, status, title = "request-timeout", 408, "The request body did not arrive in time."

    def __init__(self, detail: str) -> None:
        # The rest of a body that came too slowly is not worth reading: the connection is closed.
        super().__init__(detail, headers={"Connection": "close"})


class TooManyParts(ProblemError):
    slug, status, title = "too-many-parts", 413, "The multipart body has too many parts."


class HeadersTooLarge(ProblemError):
    slug, status, title = "headers-too-large", 431, "The request headers are too large."


class TooDeep(ProblemError):
    slug, status, title = "too-deep", 400, "The document is nested too deeply."


class InternalError(ProblemError):
    pass


def _instance() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def problem_response(base_url: str, error: ProblemError, instance: str | None = None) -> Response[Any]:
    body = Problem(
        type=base_url + error.slug,
        title=error.title,
        status=error.status,
        detail=error.detail,
        instance=instance or _instance(),
        errors=error.errors,
    )
    content: Any = body
    if error.extensions:
        content = msgspec.to_builtins(body) | error.extensions
    return Response(content, status_code=error.status, media_type=PROBLEM_MEDIA_TYPE, headers=error.headers)


def _body_problems(request: Request[Any, Any, Any]) -> list[FieldProblem] | None:
    """Every error in the body, not just the first one msgspec stopped at.

    Litestar decodes the body at C speed and stops at the first mismatch; only on that failure
    do we walk the already-decoded JSON against the handler's ``data`` type to list them all.
    """
    decoded = decoded_json(request)
    parameter = handler_parameters(request.route_handler).get("data")
    if parameter is None or not isinstance(decoded, dict | list):
        return None
    return collect_problems(decoded, parameter.annotation) or None


def exception_handlers(base_url: str, retry_after: int = 5) -> ExceptionHandlersMap:
    """The four handlers: ours, Litestar's validation, other HTTP errors, and the unexpected.

    A database that is down, frozen or out of connections raises from wherever the request was
    (a guard, the transaction, a query); the last handler recognises it and answers 503 with
    ``Retry-After``, logging the reason in one line.
    """

    def on_problem(request: Request[Any, Any, Any], exc: ProblemError) -> Response[Any]:
        return problem_response(base_url, exc)

    def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
        extra = exc.extra if isinstance(exc.extra, list) else []
        if any(isinstance(e, dict) and e.get("source") == "body" for e in extra):
            errors = _body_problems(request) or problems_from_litestar(extra)
            count = len(errors)
            detail = f"{count} field{'s' if count != 1 else ''} need{'s' if count == 1 else ''} attention."
            return problem_response(base_url, InvalidBody(detail, errors=errors))
        errors = problems_from_litestar(extra)
        names = ", ".join(sorted({e.parameter for e in errors if e.parameter}))
        return problem_response(base_url, InvalidParameter(f"Invalid parameter: {names}.", errors=errors))

    def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        error: ProblemError
        if isinstance(exc, NotFoundException):
            error = NotFound(f"No resource at {request.url.path}.")
        elif isinstance(exc, MethodNotAllowedException):
            allow = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow", "")
            error = MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path}.",
                headers={"Allow": allow} if allow else None,
            )
        elif isinstance(exc, RequestEntityTooLarge):
            limit = request.route_handler.resolve_request_max_body_size()
            error = TooLarge(f"The request body exceeds the limit of {limit} bytes.")
        elif isinstance(exc, ClientException) and (reason := _decode_failure(exc)):
            error = MalformedBody(f"The body is not valid JSON: {reason}.")
        else:
            status = exc.status_code
            body = Problem(
                type="about:blank",
                title=http.HTTPStatus(status).phrase,
                status=status,
                detail=str(exc.detail),
                instance=_instance(),
            )
            return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=exc.headers)
        return problem_response(base_url, error)

    def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        instance = _instance()
        causes: list[BaseException] = list(exc.exceptions) if isinstance(exc, ExceptionGroup) else [exc]
        if (known := _database_problem(causes, retry_after, instance, request.url.path)) is not None:
            return problem_response(base_url, known, instance)
        # The message of an arbitrary exception may carry personal data (a database error echoes
        # the values it refused), so only the type and the stack are logged, never str(exc).
        log.error(
            "unhandled_exception",
            instance=instance,
            exc_type=f"{type(exc).__module__}.{type(exc).__qualname__}",
            frames=_frames(exc),
        )
        return problem_response(
            base_url,
            InternalError(f"An unexpected error occurred; quote {instance} when reporting it."),
            instance,
        )

    return {
        ProblemError: on_problem,
        ValidationException: on_validation,
        HTTPException: on_http,
        Exception: on_unexpected,
    }


def _database_problem(causes: list[BaseException], retry_after: int, instance: str, path: str) -> ProblemError | None:
    """What the database said, as the client's problem (a refusal) or ours (it is sick); None otherwise."""
    for cause in causes:
        if (refused := _refused_by_database(cause)) is not None:
            # The database's constraints are the last line of defence; what they refuse is the
            # client's doing (a value out of range, a row still referred to), never a 500.
            log.warning("refused_by_database", sqlstate=getattr(cause, "sqlstate", None), instance=instance)
            return refused
    if reason := next(filter(None, map(unavailable_reason, causes)), None):
        log.warning("database_unavailable", reason=reason, instance=instance, path=path)
        return ServiceUnavailable("The database is not answering; try again shortly.", retry_after=retry_after)
    return None


def _refused_by_database(exc: BaseException) -> ProblemError | None:
    """A database refusal that the request caused, as its problem; None for anything else.

    Only the kind of refusal is used: the server's message may quote the refused values (personal data).
    """
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return Conflict("Other records still refer to this one, or the one referred to does not exist.")
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict("A record with the same identity already exists.")
    if isinstance(exc, asyncpg.CharacterNotInRepertoireError | asyncpg.UntranslatableCharacterError):
        return InvalidParameter("A text value holds a character that cannot be stored (NUL).")
    if isinstance(exc, asyncpg.NumericValueOutOfRangeError | asyncpg.DatetimeFieldOverflowError):
        return InvalidParameter("A value is out of the range that can be stored.")
    return None


def _decode_failure(exc: BaseException) -> str | None:
    """Why msgspec could not parse the body, if that is what this client error is about.

    Litestar wraps the parser's error in a ClientException whose wording varies by code path;
    the cause chain is the stable part.
    """
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, msgspec.DecodeError) and not isinstance(cause, msgspec.ValidationError):
            message = str(cause)
            return message[:1].lower() + message[1:]
        cause = cause.__cause__
    return None


def _frames(exc: BaseException) -> list[str]:
    frames: list[str] = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(f"{code.co_filename}:{tb.tb_lineno}:{code.co_name}")
        tb = tb.tb_next
    return frames[-12:]
