"""The console's fixtures: an HTTPS test client (its cookies are Secure), and the API tests' arrangements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from tests.api.conftest import admin
from tests.console.browser import Browser, browser_session

__all__ = ["admin"]


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """Over https, as in production: the session cookie is ``Secure`` and the client must send it back."""
    async with AsyncTestClient(app, base_url="https://testserver.local") as test_client:
        yield test_client


@pytest.fixture
def browser(settings: Settings) -> Iterator[Browser]:
    """Chromium against a live server of the test's database, configured as in production.

    Over plain http on 127.0.0.1 the session cookie is still ``Secure``: browsers treat the loopback
    address as a secure context and keep such cookies.
    """
    yield from browser_session(create_app(settings))
