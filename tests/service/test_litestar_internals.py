"""The two things service/litestar_internals.py reads of Litestar's internals, pinned against a real app."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Litestar, Request, Response, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.params import JSONBody
from litestar.testing import TestClient

from service.litestar_internals import decoded_json, handler_parameters


class Item(msgspec.Struct):
    name: str
    count: int


def provide_viewer() -> str | None:
    return None


def app(**options: Any) -> Litestar:
    # logging_config=None: Litestar's default would install a handler on the root logger for the whole session.
    return Litestar(
        [Items], dependencies={"viewer": Provide(provide_viewer, sync_to_thread=False)}, logging_config=None, **options
    )


class Items(Controller):
    path = "/items"

    @post("/")
    async def add(self, data: JSONBody[Item], viewer: NamedDependency[str | None]) -> None:
        return None


def test_an_exception_handler_sees_the_json_litestar_decoded_and_the_handlers_data_type() -> None:
    seen: dict[str, Any] = {}

    def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
        seen["json"] = decoded_json(request)
        seen["data"] = handler_parameters(request.route_handler)["data"].annotation
        return Response({}, status_code=400)

    application = app(exception_handlers={ValidationException: on_validation})
    with TestClient(application) as client:
        assert client.post("/items", json={"name": 1, "count": "x"}).status_code == 400
    assert seen == {"json": {"name": 1, "count": "x"}, "data": Item}


def test_a_handlers_parameters_are_named_with_their_types() -> None:
    handlers: list[BaseRouteHandler] = []

    async def guard(connection: Any, handler: BaseRouteHandler) -> None:
        handlers.append(handler)

    application = app(guards=[guard])
    with TestClient(application) as client:
        assert client.post("/items", json={"name": "a", "count": 1}).status_code == 201
    [handler] = handlers
    parameters = handler_parameters(handler)
    assert {"data", "viewer"} <= set(parameters) and "self" not in parameters
    assert parameters["viewer"].annotation == str | None


def test_before_decoding_there_is_no_json() -> None:
    found: list[Any] = []

    async def guard(connection: Any, handler: BaseRouteHandler) -> None:
        found.append(decoded_json(connection))  # guards run before the body is read

    application = app(guards=[guard])
    with TestClient(application) as client:
        client.post("/items", json={"name": "a", "count": 1})
    assert found == [None]
