"""Development aids: ``shinsei dev card``, a test My Number card (SHINSEI_ENV=development only)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from service.cli.common import CommandError, settings

#: Shown in --help; the values are service.devcard.DEFAULT_HOLDER's (matching the README's example
#: answers), read when the command runs so that ``shinsei --help`` imports no cryptography.
_DEFAULT = "the README example's applicant"


@click.group()
def dev() -> None:
    """Development aids (SHINSEI_ENV=development only)."""


@dev.command()
@click.option("--out", required=True, help="directory for card.p12 and card.p12.password")
@click.option("--name", help=f"氏名 (default: {_DEFAULT}'s)")
@click.option("--birth-date", help=f"YYYY-MM-DD (default: {_DEFAULT}'s)")
@click.option("--address", help=f"住所 (default: {_DEFAULT}'s)")
@click.option("--gender", type=click.Choice(["male", "female", "unknown"]), help=f"default: {_DEFAULT}'s")
def card(out: str, name: str | None, birth_date: str | None, address: str | None, gender: str | None) -> int:
    """A test card (PKCS#12) from the development CA, which is registered as a test anchor."""
    import msgspec

    from service import devcard

    default = devcard.DEFAULT_HOLDER
    try:
        birth = dt.date.fromisoformat(birth_date) if birth_date else default.birth_date
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD", param_hint="--birth-date") from None
    holder = msgspec.structs.replace(
        default, name=name or default.name, birth_date=birth, address=address or default.address,
        gender=gender or default.gender,
    )  # fmt: skip
    try:
        made = devcard.make_card(settings(), Path(out), holder)
    except devcard.DevelopmentOnly as exc:
        raise CommandError(str(exc)) from None
    click.echo(made.summary())
    return 0


COMMANDS = [dev]
