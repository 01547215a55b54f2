"""What we read of Litestar beyond its documented API, in one place.

Two needs have no public answer in Litestar 2.x. An exception handler is called synchronously
(``ExceptionHandlerMiddleware``), so it cannot ``await request.json()``; the JSON Litestar already
decoded before its validation stopped at the first error lives only in the connection's
``ScopeState``, which Litestar documents as internal. And a handler's parameters (whether it takes
``data``, or a ``viewer``) are known to Litestar as its memoised ``parsed_fn_signature``; reading
them ourselves with ``inspect`` would re-resolve the annotations on every request.

tests/service/test_litestar_internals.py pins both against a real app: an upgrade that changes them
fails there, not as a quietly shorter error list or a token check skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.handlers import BaseRouteHandler
from litestar.types import Empty
from litestar.typing import FieldDefinition
from litestar.utils.scope.state import ScopeState


def decoded_json(request: Request[Any, Any, Any]) -> Any:
    """The body as JSON values if Litestar has decoded it for this request already; None otherwise."""
    decoded = ScopeState.from_scope(request.scope).json
    return None if decoded is Empty else decoded


def handler_parameters(handler: BaseRouteHandler) -> Mapping[str, FieldDefinition]:
    """The handler function's parameters by name, with their resolved annotations (memoised by Litestar)."""
    return handler.parsed_fn_signature.parameters
