"""What every command module shares: settings, the database, errors, signer options, progress.

Imports here stay light (click, msgspec, the settings): ``shinsei --help`` imports every command
module, so each command imports its heavy libraries (asyncpg, pyHanko, httpx, Litestar) in its body.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from service.settings import Settings

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")


class CommandError(Exception):
    """A failure to report on stderr with exit status 1, without a traceback."""


class UsageError(CommandError):
    """Input the command cannot use, such as a file of the wrong kind (exit status 2, as for bad arguments)."""


def settings() -> Settings:
    """The settings the root command read from the environment (once, at start-up)."""
    found: Settings = click.get_current_context().find_root().obj
    return found


def run_with_conn(dsn: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run ``work`` on one connection of its own, with the jsonb codecs every connection gets."""
    import asyncio

    import asyncpg

    from service.db import init_connection

    async def run() -> T:
        conn = await asyncpg.connect(dsn)
        try:
            await init_connection(conn)
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def secret(env: str | None, prompt: str) -> str:
    """A password or PIN from the variable named by ``env``, or asked for: never an argument."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise CommandError(f"{env} is not set")
        return value
    return getpass.getpass(prompt)


class SignerChoice(NamedTuple):
    """The key the signer options name: a PKCS#12 file, or a key on a PKCS#11 token (a My Number card)."""

    p12: str | None
    pkcs11_module: str | None
    password_env: str | None
    password_file: str | None
    token_label: str | None
    key_label: str | None
    pin_env: str | None

    def open(self) -> contextlib.AbstractContextManager[Any]:
        """The signer, asking for the password or PIN unless its variable is named; the session closes after."""
        from pathlib import Path

        from signing.client import p12_signer, pkcs11_signer

        if self.p12:
            if self.password_file:
                # The file's last line break is the editor's, not the password's (dev card writes one too).
                password = Path(self.password_file).read_text().rstrip("\r\n")
            else:
                password = secret(self.password_env, "PKCS#12 password: ")
            return contextlib.nullcontext(p12_signer(Path(self.p12).read_bytes(), password.encode() or None))
        if not (self.pkcs11_module and self.token_label and self.key_label):
            raise CommandError("--pkcs11-module needs --token-label and --key-label")
        return pkcs11_signer(self.pkcs11_module, self.token_label, self.key_label, secret(self.pin_env, "PIN: "))


def _signer_options(prefix: str) -> tuple[Callable[[Callable[..., Any]], Callable[..., Any]], ...]:
    return (
        click.option(f"--{prefix}p12", help="PKCS#12 file"),
        click.option(f"--{prefix}pkcs11-module", help="PKCS#11 module (opensc-pkcs11.so for a My Number card)"),
        click.option(f"--{prefix}password-env", help="environment variable holding the PKCS#12 password"),
        click.option(
            f"--{prefix}password-file", help="file holding the PKCS#12 password (shinsei dev card writes one)"
        ),
        click.option(f"--{prefix}token-label", help="the token's label (a My Number card: 'JPKI (Signature)')"),
        click.option(f"--{prefix}key-label", help="the key's label on the token"),
        click.option(f"--{prefix}pin-env", help="environment variable holding the PIN"),
    )


def signer_options(command: Callable[..., T]) -> Callable[..., T]:
    """Give ``command`` the signer options, defined once, as one ``signer: SignerChoice`` argument.

    Exactly one of ``--p12`` and ``--pkcs11-module`` is a usage error (exit 2) before any work starts,
    as argparse's required mutually exclusive group was.
    """
    return key_options()(command)


def key_options(prefix: str = "", *, required: bool = True) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """The signer options named with ``prefix`` (``--link-p12``...), as one ``{prefix}signer`` argument.

    Both of ``--{prefix}p12`` and ``--{prefix}pkcs11-module`` is a usage error (exit 2), and so is
    neither when ``required``; when not required and neither is given, the argument is None.
    """
    attr = prefix.replace("-", "_")

    def decorate(command: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(command)
        def with_signer(*args: Any, **kwargs: Any) -> T:
            choice = SignerChoice(*(kwargs.pop(attr + name) for name in SignerChoice._fields))
            given = bool(choice.p12) + bool(choice.pkcs11_module)
            if given > 1 or (required and not given):
                raise click.UsageError(
                    f"give one of --{prefix}p12 and --{prefix}pkcs11-module", click.get_current_context()
                )
            if choice.password_env and choice.password_file:
                raise click.UsageError(
                    f"give one of --{prefix}password-env and --{prefix}password-file", click.get_current_context()
                )
            return command(*args, **{f"{attr}signer": choice if given else None}, **kwargs)

        wrapped: Callable[..., T] = with_signer
        for option in reversed(_signer_options(prefix)):
            wrapped = option(wrapped)
        return wrapped

    return decorate


@contextlib.contextmanager
def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterator[Iterable[T]]:
    """``items`` with a progress bar on stderr when it is a terminal; plain, and silent, otherwise.

    Bars go to stderr so that stdout stays the command's output (one line per item for scripts).
    """
    if not sys.stderr.isatty():
        yield items
        return
    from rich.console import Console
    from rich.progress import track

    yield track(items, description=description, total=total, console=Console(stderr=True), transient=True)


@contextlib.contextmanager
def status() -> Iterator[Callable[[str], None]]:
    """A one-line "checking ..." status on stderr for work of unknown length, when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    from rich.console import Console

    with Console(stderr=True).status("checking") as shown:
        yield lambda item: shown.update(f"checking {item}")
