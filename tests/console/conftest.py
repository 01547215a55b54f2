"""The console's fixtures: an HTTPS test client (its cookies are Secure), and the API tests' arrangements."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.conftest import admin

__all__ = ["admin"]


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """Over https, as in production: the session cookie is ``Secure`` and the client must send it back."""
    async with AsyncTestClient(app, base_url="https://testserver.local") as test_client:
        yield test_client
