"""The Litestar application, built from settings that are passed in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from forms import ComponentRegistry, default_components
from service import __doc__ as description
from service.agencies.routes import AgencyController
from service.auth.principal import provide_principal, provide_viewer
from service.auth.routes import TokenController
from service.catalog.routes import ProcedureController
from service.db import create_pool, provide_conn
from service.health.routes import healthz, readyz
from service.logs import RequestLog
from service.problems import exception_handlers
from service.publishing.cache import CompiledForms
from service.publishing.routes import FormController, provide_compiled_forms
from service.settings import Settings


def create_app(settings: Settings, components: ComponentRegistry | None = None) -> Litestar:
    """Build the app; ``settings.database_url`` must name the database (the CLI resolves it).

    ``components`` are the form field types (``forms.default_components()`` unless given).
    """
    dsn = settings.database_url
    if not dsn:
        raise ValueError("create_app needs settings.database_url; the CLI starts the embedded database")

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings, dsn)
        app.state.compiled_forms = CompiledForms(components or default_components())
        try:
            yield
        finally:
            await app.state.pool.close()

    app = Litestar(
        route_handlers=[healthz, readyz, AgencyController, ProcedureController, FormController, TokenController],
        dependencies={
            "conn": Provide(provide_conn),
            "principal": Provide(provide_principal, sync_to_thread=False),
            "viewer": Provide(provide_viewer),
            "compiled_forms": Provide(provide_compiled_forms, sync_to_thread=False),
        },
        exception_handlers=exception_handlers(settings.problem_base_url),
        lifespan=[database],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="shinsei",
            version="0.1.0",
            description=description,
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/")],
        ),
        logging_config=None,
        debug=False,
    )
    # Litestar runs middleware only for matched routes; the request log must see 404s and 405s too,
    # so it wraps the outermost handler. `asgi_handler` is a public attribute of Litestar.
    app.asgi_handler = RequestLog(app.asgi_handler)
    return app
