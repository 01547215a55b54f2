"""The applicant's filing commands: ``draft`` (save, resume, finalise) and card sign-in (``login``, ``applications``).

The work is done over the HTTP API by ``service/drafts/client.py`` and ``service/applicants/client.py``;
these commands only read the command line. A server's problem is printed as ``shinsei: ...`` with
exit status 1; a usage error (a missing key option, say) exits 2 before anything is sent.
"""

from __future__ import annotations

from typing import Final

import click

from service.cli.common import SignerChoice, key_options, signer_options

DEFAULT_SERVER: Final = "http://127.0.0.1:8000"
_server = click.option("--server", default=DEFAULT_SERVER, show_default=True)
_draft_token = click.option("--token", help="the draft token (default: $SHINSEI_DRAFT_TOKEN)")


@click.group()
def draft() -> None:
    """Save an application as a draft, resume it, sign and submit it."""


@draft.command()
@_server
@click.option("--form", required=True)
@click.option("--answers", help="JSON file with the answers so far")
def new(server: str, form: str, answers: str | None) -> int:
    """Start a draft; prints its id and token."""
    from service.drafts import client

    return client.new(server, form, answers)


@draft.command()
@_server
@click.argument("draft_id")
@_draft_token
def show(server: str, draft_id: str, token: str | None) -> int:
    """The draft, its errors and what is still to do."""
    from service.drafts import client

    return client.show(server, draft_id, token)


@draft.command(name="set")
@_server
@click.argument("draft_id")
@_draft_token
@click.argument("values", nargs=-1, metavar="[FIELD=VALUE]...")
@click.option("--answers", help="JSON file of answers to merge in (RFC 7396)")
@click.option("--attach", multiple=True, metavar="FIELD=PATH", help="a file for a field")
def set_answers(
    server: str, draft_id: str, token: str | None, values: tuple[str, ...], answers: str | None, attach: tuple[str, ...]
) -> int:
    """Change answers and upload files. A VALUE is JSON (12, true; null removes), or else text."""
    from service.drafts import client

    return client.change(server, draft_id, token, values, answers, attach)


@draft.command()
@_server
@click.argument("draft_id")
@_draft_token
@signer_options
@click.option("--out", default=".", help="where to save the receipt and the access token")
@click.option("--document", help="also save the signed document bytes here")
def finalize(
    server: str, draft_id: str, token: str | None, signer: SignerChoice, out: str, document: str | None
) -> int:
    """Sign the finalised document and submit it with the files."""
    from service.drafts import client

    return client.finalize(server, draft_id, token, signer.open, out, document)


@click.command()
@signer_options
@key_options("link-", required=False)
@_server
def login(signer: SignerChoice, link_signer: SignerChoice | None, server: str) -> int:
    """Sign in with the card's authentication key; prints a session token.

    The first time with a card, add its signing key (--link-p12 or --link-pkcs11-module): it says
    whose card it is.
    """
    from service.applicants import client

    return client.login(server, signer.open, link_signer.open if link_signer is not None else None)


@click.command()
@click.option("--token", help="the session token (default: $SHINSEI_SESSION_TOKEN)")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--cursor")
@click.option("--all", "every_page", is_flag=True, help="every page")
@_server
def applications(token: str | None, limit: int, cursor: str | None, every_page: bool, server: str) -> int:
    """Every application you signed (after shinsei login), one JSON line each."""
    from service.applicants import client

    return client.applications(server, token, limit, cursor, every_page)


COMMANDS = [draft, login, applications]
