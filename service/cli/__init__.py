"""The ``shinsei`` command: one module per audience, each a list of click commands.

Every module of this package that defines ``COMMANDS`` (a list of ``click.Command``, groups
included) contributes them to ``shinsei``: adding a command group is adding one file here. The
modules import their heavy libraries inside each command, so that ``shinsei --help`` stays quick.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from typing import Final

import click

from service.cli.common import CommandError, UsageError
from service.settings import Settings

__all__ = ["CommandError", "main", "root"]

#: Modules of this package that hold helpers, not commands.
_NOT_COMMANDS: Final = frozenset({"common", "files"})


@click.group(name="shinsei", help="Signed online applications (申請).")
@click.version_option(package_name="shinsei", prog_name="shinsei")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="more logs on stderr: -v info (a client's HTTP requests), -vv debug. serve logs at SHINSEI_LOG_LEVEL.",
)
@click.pass_context
def root(ctx: click.Context, verbose: int) -> None:
    """Read the settings once and set the log level; commands say what they do, logs only what went wrong."""
    from service.logs import configure_logging

    settings = Settings.from_env(os.environ)
    ctx.obj = settings
    if ctx.invoked_subcommand == "serve":
        # A server's log is its output: one line per request at SHINSEI_LOG_LEVEL (info by default).
        configure_logging(settings)
    else:
        configure_logging(settings, ("warning", "info", "debug")[min(verbose, 2)])


def _add_commands(group: click.Group) -> None:
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if module in _NOT_COMMANDS:
            continue
        for command in importlib.import_module(f"{__name__}.{module}").COMMANDS:
            group.add_command(command)


_add_commands(root)


def _failure(exc: Exception) -> tuple[int, str] | None:
    """Exit status and message for the failures a user can act on; ``None``: a bug, shown with its traceback.

    Each class is looked up only if its module was imported: an exception of a module that was
    never imported cannot be an instance of its classes, and ``--help`` stays free of those imports.
    """
    if isinstance(exc, UsageError):
        return 2, str(exc)
    if isinstance(exc, CommandError):
        return 1, str(exc)
    if (migrate := sys.modules.get("service.migrate")) and isinstance(exc, migrate.MigrationError):
        return 1, str(exc)
    if (problems := sys.modules.get("service.problems")) and isinstance(exc, problems.ProblemError):
        details = "".join(f"\n  {e.pointer or e.parameter}: {e.detail}" for e in exc.errors or [])
        return 1, f"{exc.detail}{details}"
    if (msgspec := sys.modules.get("msgspec")) and isinstance(exc, msgspec.ValidationError):
        return 2, str(exc)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``shinsei``; the exit status: 0 done, 1 failed, 2 usage, 3 indeterminate (verify)."""
    try:
        result = root.main(args=list(argv) if argv is not None else None, prog_name="shinsei", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except Exception as exc:
        failure = _failure(exc)
        if failure is None:
            raise
        click.echo(f"shinsei: {failure[1]}", err=True)
        return failure[0]
    # standalone_mode=False returns the command's value, or the exit code of --help and --version.
    return result if isinstance(result, int) else 0
