"""What the applicant's commands share: talking to the server and reporting its problems.

The applicant's commands (``submit``, ``status``, ``draft``, ``login``, ``applications``) use the
HTTP API only, never the database; a failure is a ``ClientError``, which ``shinsei`` prints as
``shinsei: ...`` with exit status 1.
"""

from __future__ import annotations

import httpx

from service.cli.common import CommandError


class ClientError(CommandError):
    """A failure to report on stderr with exit status 1 (the shinsei command reports its own the same way)."""


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


def http(server: str) -> httpx.Client:
    return httpx.Client(base_url=server.rstrip("/"), timeout=60)
