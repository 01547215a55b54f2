"""The applicant's filing commands: ``draft`` (save, resume, finalise) and card sign-in (``login``, ``applications``).

Their parsers are argparse ones, kept beside the code they drive (``service/drafts/client.py``,
``service/applicants/client.py``); each is mounted here as one click command that hands its
arguments over unparsed, so both command lines behave exactly as those modules define them.
"""

from __future__ import annotations

import importlib

import click

from service.cli.common import settings

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _mounted(name: str, module: str, summary: str) -> click.Command:
    @click.command(name=name, help=summary, context_settings=_PASS_THROUGH, add_help_option=False)
    @click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
    def command(arguments: tuple[str, ...]) -> int:
        import argparse

        parser = argparse.ArgumentParser(prog="shinsei")
        importlib.import_module(module).register(parser.add_subparsers(dest="command", required=True))
        parsed = parser.parse_args([name, *arguments])
        status: int = parsed.handler(settings(), parsed)
        return status

    return command


COMMANDS = [
    _mounted("draft", "service.drafts.client", "Save an application as a draft, resume it, sign and submit it."),
    _mounted("login", "service.applicants.client", "Sign in with the card's authentication key."),
    _mounted("applications", "service.applicants.client", "Every application you signed (after shinsei login)."),
]
