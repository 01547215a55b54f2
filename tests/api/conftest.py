"""Shared arrangements for the API tests: forms published and trust set up through the API."""

from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import pem
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests import pki
from tests.conftest import Tokens
from tests.forms.helpers import field

FORM = {
    "id": "t-overtime",
    "procedure": "mhlw-36-agreement",
    "title": {"ja": "試験用協定届"},
    "signature": {"accept": ["jpki", "corporate"]},
    "sections": [
        {
            "id": "main",
            "title": {"ja": "本体"},
            "fields": [
                field("applicant_name", "text", required=True, binds="signer.name"),
                field("workers", "integer", required=True, min=1),
                field("agreement", "attachment", required=True, media_types=["application/pdf"], max_bytes=1_000_000),
            ],
        }
    ],
}
TWO_SIGNERS = FORM | {"id": "t-two", "signature": {"accept": ["jpki"], "signers": 2}}
QUALIFIED = FORM | {
    "id": "t-seal",
    "procedure": "moj-inkan-todoke",
    "signature": {"accept": ["jpki", "corporate", "accredited"]},
}


@pytest.fixture
async def admin(client: AsyncTestClient[Litestar], tokens: Tokens) -> dict[str, str]:
    """Forms published and trust set up through the API, as an agency would."""
    return await arrange(client, tokens)


async def arrange(client: AsyncTestClient[Litestar], tokens: Tokens) -> dict[str, str]:
    """What ``admin`` sets up, through any app's client; the admin's header."""
    header = await tokens.header("admin")
    for schema in (FORM, TWO_SIGNERS, QUALIFIED):
        assert (await client.post("/api/v1/forms", json=schema, headers=header)).status_code == 201
        assert (await client.post(f"/api/v1/forms/{schema['id']}/draft/publish", headers=header)).status_code == 200
    for label, cls in (("jlis-root-gen2", "jpki"), ("corporate-root", "corporate"), ("accredited-root", "accredited")):
        anchor = {"class": cls, "certificate": pem.armor("CERTIFICATE", pki.cert(label).dump()).decode()}
        assert (await client.post("/api/v1/trust/anchors", json=anchor, headers=header)).status_code == 201
    crl = pem.armor("X509 CRL", pki.crl("jlis-gen2", dt.datetime.now(dt.UTC)).dump()).decode()
    assert (await client.post("/api/v1/trust/crls", json={"crl": crl}, headers=header)).status_code == 201
    return header
