"""``shinsei login`` and ``shinsei applications``: sign in with the card, list one's applications.

The card's authentication key signs the server's challenge (PKCS#11: the card's authentication
token; a PKCS#12 in tests). The first time with a card, the card's signing key signs the same
challenge too (``--link-...``), which tells the server whose card it is. The click commands in
``service/cli/filing.py`` parse the command line and call these.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any

import msgspec

from service.applicant_client import ClientError, expect, http
from signing.client import sign_detached

OpenKey = Callable[[], contextlib.AbstractContextManager[Any]]
"""Opens a signer (asking for its password or PIN); the session closes when the block ends."""


def login(server: str, open_key: OpenKey, open_link_key: OpenKey | None) -> int:
    """Print a session token (alone on stdout), valid for a short while.

    ``open_link_key``, the card's signing key, links the card to its holder the first time.
    """
    with http(server) as client:
        issued = expect(client.post("/api/v1/applicant/challenge"), 201).json()
        document = issued["document"].encode()
        with open_key() as key:
            body: dict[str, Any] = {
                "challenge": issued["challenge"],
                "signature": base64.b64encode(sign_detached(document, key)).decode(),
            }
        if open_link_key is not None:
            with open_link_key() as key:
                body["link_signature"] = base64.b64encode(sign_detached(document, key)).decode()
        response = client.post("/api/v1/applicant/session", json=body)
        if response.status_code == 401 and response.json().get("type", "").endswith("/card-not-linked"):
            raise ClientError(
                "this card is not linked to its holder yet: sign in once with --link-p12 or --link-pkcs11-module "
                "(the card's signing key)"
            )
        session = expect(response, 201).json()
    sys.stdout.write(session["session_token"] + "\n")
    note = "card linked; " if session["linked"] else ""
    sys.stderr.write(f"signed in; {note}the session lasts until {session['expires_at']}\n")
    return 0


def applications(server: str, token: str | None, limit: int, cursor: str | None, every_page: bool) -> int:
    """The signed-in holder's applications as JSON lines, newest first (every page with ``every_page``)."""
    token = token or os.environ.get("SHINSEI_SESSION_TOKEN")
    if not token:
        raise ClientError("give the session token with --token or SHINSEI_SESSION_TOKEN (shinsei login prints it)")
    headers = {"Authorization": f"Bearer {token}"}
    with http(server) as client:
        while True:
            params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            listed = expect(client.get("/api/v1/applicant/submissions", params=params, headers=headers), 200).json()
            for item in listed["items"]:
                sys.stdout.write(msgspec.json.encode(item).decode() + "\n")
            cursor = listed["next_cursor"]
            if cursor is None or not every_page:
                break
    if cursor is not None:
        sys.stderr.write(f"more: --cursor {cursor}\n")
    return 0
