"""What the applicant's commands share: talking to the server, reporting its problems, choosing the key.

The applicant's commands (``draft``, ``login``, ``applications``) use the HTTP API only, never the
database; failures are printed as ``shinsei: ...`` with exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from service.cli.common import CommandError, secret
from service.settings import Settings
from signing.client import p12_signer, pkcs11_signer

Handler = Callable[[Settings, argparse.Namespace], int]


class ClientError(CommandError):
    """A failure to report on stderr with exit status 1 (the shinsei command reports its own the same way)."""


def reported(handler: Handler) -> Handler:
    """Print a client failure as ``shinsei: ...`` and exit 1, without a traceback."""

    @functools.wraps(handler)
    def run(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return handler(settings, args)
        except ClientError as exc:
            sys.stderr.write(f"shinsei: {exc}\n")
            return 1

    return run


def problem(response: httpx.Response) -> ClientError:
    """A problem document (RFC 9457) as a few lines: title, detail, then each error by pointer."""
    try:
        body = response.json()
    except ValueError:
        return ClientError(f"the server answered {response.status_code}")
    lines = [f"{body.get('title', response.status_code)} {body.get('detail', '')}"]
    lines += [
        f"  {e.get('pointer') or e.get('parameter') or '/'}: {e.get('code')}: {e.get('detail')}"
        for e in body.get("errors") or []
    ]
    return ClientError("\n".join(lines))


def expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise problem(response)
    return response


def signer(args: argparse.Namespace, prefix: str = "") -> contextlib.AbstractContextManager[Any]:
    """The key named by ``--{prefix}p12`` or ``--{prefix}pkcs11-module`` (a card through PKCS#11)."""
    attr = prefix.replace("-", "_")
    p12 = getattr(args, f"{attr}p12")
    if p12:
        password = secret(getattr(args, f"{attr}password_env"), "PKCS#12 password: ")
        return contextlib.nullcontext(p12_signer(Path(p12).read_bytes(), password.encode() or None))
    module, token, key = (getattr(args, f"{attr}{n}") for n in ("pkcs11_module", "token_label", "key_label"))
    if not (module and token and key):
        raise ClientError(f"--{prefix}pkcs11-module needs --{prefix}token-label and --{prefix}key-label")
    return pkcs11_signer(module, token, key, secret(getattr(args, f"{attr}pin_env"), "PIN: "))


def add_key_arguments(parser: argparse.ArgumentParser, prefix: str = "", *, required: bool = True) -> None:
    """``--p12 FILE --password-env VAR`` or ``--pkcs11-module LIB --token-label L --key-label K --pin-env VAR``."""
    key = parser.add_mutually_exclusive_group(required=required)
    key.add_argument(f"--{prefix}p12", help="PKCS#12 file")
    key.add_argument(f"--{prefix}pkcs11-module", help="PKCS#11 module (opensc-pkcs11.so for a My Number card)")
    parser.add_argument(f"--{prefix}password-env", help="environment variable holding the PKCS#12 password")
    parser.add_argument(f"--{prefix}token-label")
    parser.add_argument(f"--{prefix}key-label")
    parser.add_argument(f"--{prefix}pin-env", help="environment variable holding the PIN")


def http(args: argparse.Namespace) -> httpx.Client:
    return httpx.Client(base_url=args.server.rstrip("/"), timeout=60)
