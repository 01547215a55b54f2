"""``shinsei login`` and ``shinsei applications``: sign in with the card, list one's applications.

The card's authentication key signs the server's challenge (PKCS#11: the card's authentication
token; a PKCS#12 in tests). The first time with a card, the card's signing key signs the same
challenge too (``--link-...``), which tells the server whose card it is.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from typing import Any

import msgspec

from service.applicant_client import ClientError, add_key_arguments, expect, http, reported, signer
from service.settings import Settings
from signing.client import sign_detached


@reported
def cmd_login(settings: Settings, args: argparse.Namespace) -> int:
    """Print a session token (alone on stdout), valid for a short while."""
    linking = bool(args.link_p12 or args.link_pkcs11_module)
    with http(args) as client:
        issued = expect(client.post("/api/v1/applicant/challenge"), 201).json()
        document = issued["document"].encode()
        with signer(args) as key:
            body: dict[str, Any] = {
                "challenge": issued["challenge"],
                "signature": base64.b64encode(sign_detached(document, key)).decode(),
            }
        if linking:
            with signer(args, "link-") as key:
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


@reported
def cmd_applications(settings: Settings, args: argparse.Namespace) -> int:
    """The signed-in holder's applications as JSON lines, newest first (every page with ``--all``)."""
    token = args.token or os.environ.get("SHINSEI_SESSION_TOKEN")
    if not token:
        raise ClientError("give the session token with --token or SHINSEI_SESSION_TOKEN (shinsei login prints it)")
    headers = {"Authorization": f"Bearer {token}"}
    cursor = args.cursor
    with http(args) as client:
        while True:
            params = {"limit": args.limit} | ({"cursor": cursor} if cursor else {})
            listed = expect(client.get("/api/v1/applicant/submissions", params=params, headers=headers), 200).json()
            for item in listed["items"]:
                sys.stdout.write(msgspec.json.encode(item).decode() + "\n")
            cursor = listed["next_cursor"]
            if cursor is None or not args.all:
                break
    if cursor is not None:
        sys.stderr.write(f"more: --cursor {cursor}\n")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``login`` and ``applications`` to the ``shinsei`` command line."""
    login = commands.add_parser("login", help="sign in with the card's authentication key; prints a session token")
    add_key_arguments(login)
    add_key_arguments(login, "link-", required=False)
    login.add_argument("--server", default="http://127.0.0.1:8000")
    login.set_defaults(handler=cmd_login)

    listing = commands.add_parser("applications", help="every application you signed (after shinsei login)")
    listing.add_argument("--token", help="the session token (default: $SHINSEI_SESSION_TOKEN)")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--cursor")
    listing.add_argument("--all", action="store_true", help="every page")
    listing.add_argument("--server", default="http://127.0.0.1:8000")
    listing.set_defaults(handler=cmd_applications)
