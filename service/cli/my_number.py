"""Commands for 個人番号: its keys (make a master key, rotate) and the early purge its procedures ask for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import click

from service.cli.common import CommandError, run_with_conn, settings

if TYPE_CHECKING:
    import asyncpg

    from service.mynumber.keystore import RotationReport


@click.group()
def keys() -> None:
    """Keys that protect 個人番号 at rest."""


@keys.command(name="new-master-key")
def new_master_key() -> int:
    """Print a new master key (base64): the line to put first in SHINSEI_MY_NUMBER_MASTER_KEY_FILE."""
    from service.mynumber import envelope

    click.echo(envelope.encode_key(envelope.new_key()))
    return 0


@keys.command(name="rotate-my-number")
@click.option(
    "--new-data-keys",
    is_flag=True,
    help="also retire each agency's data key: new values get a fresh one (after restart)",
)
def rotate_my_number(new_data_keys: bool) -> int:
    """Re-wrap every agency's data key under the key file's first master key; stored values are not touched."""
    from service.embedded import database_url
    from service.mynumber import keystore
    from service.mynumber.envelope import EnvelopeError
    from service.mynumber.master_keys import load_keyring

    config = settings()
    keyring = load_keyring(config)
    if keyring is None:
        raise CommandError("SHINSEI_MY_NUMBER_MASTER_KEY_FILE is not set: there is no master key to rotate to")

    async def run(conn: asyncpg.Connection) -> RotationReport:
        return await keystore.rotate(conn, keyring, new_data_keys=new_data_keys)

    with database_url(config) as dsn:
        try:
            report = run_with_conn(dsn, run)
        except EnvelopeError as exc:
            raise CommandError(
                f"nothing was changed: {exc} (keep the old master key in the file until rotated)"
            ) from None
    click.echo(
        f"{report.rewrapped} data keys re-wrapped, {report.already_current} already under master key"
        f" {report.master_key_id}; the other lines of the key file may now be removed"
    )
    return 0


@click.group(name="my-number")
def my_number() -> None:
    """個人番号 kept by applications."""


@my_number.command()
def purge() -> int:
    """Purge the numbers past their procedure's my_number.retain_days (the server also does it hourly)."""
    import datetime as dt

    from service.embedded import database_url
    from service.mynumber import documents

    with database_url(settings()) as dsn:
        count = run_with_conn(dsn, lambda conn: documents.purge_due(conn, dt.datetime.now(dt.UTC)))
    click.echo(f"purged the 個人番号 of {count} revisions")
    return 0


COMMANDS: Final = [keys, my_number]
