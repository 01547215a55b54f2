"""The console shows a 個人番号 masked, whoever is signed in: its page, receipt and bundle carry none of it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.auth import service as auth_service
from service.auth.schemas import TokenIn
from service.mynumber import envelope
from service.settings import Settings
from tests.api.test_my_number import FORM, clean, submit
from tests.console.test_pages import sign_in

Client = AsyncTestClient[Litestar]


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    key_file = tmp_path / "my-number.keys"
    key_file.write_text(envelope.encode_key(envelope.new_key()) + "\n")
    return msgspec.structs.replace(settings, my_number_master_key_file=str(key_file))


@pytest.mark.parametrize("allowed", [False, True])
async def test_the_console_masks_it(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, allowed: bool
) -> None:
    assert (await client.post("/api/v1/forms", json=FORM, headers=admin)).status_code == 201
    assert (await client.post("/api/v1/forms/t-koyo/draft/publish", headers=admin)).status_code == 200
    body = await submit(client, conn)
    request = TokenIn(role="clerk", agency="MHLW", permissions=["my_number:read"] if allowed else [])
    token = (await auth_service.issue_token(conn, request)).token
    assert (await sign_in(client, token)).status_code == 303
    page = await client.get(f"/console/applications/{body['submission_id']}")
    assert page.status_code == 200 and "**** **** 9018" in page.text and clean(page.content)
    for download in ("receipt.pdf", "bundle"):
        response = await client.get(f"/console/applications/{body['submission_id']}/{download}")
        assert response.status_code == 200 and clean(response.content), download
    bundle = await client.get(f"/console/applications/{body['submission_id']}/bundle")
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        assert all(clean(archive.read(name)) for name in archive.namelist())
        assert any(name.endswith("answers.masked.json") for name in archive.namelist())
