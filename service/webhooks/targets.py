"""Where a webhook may be sent: a public address over HTTPS (SSRF), or anything in development."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import msgspec

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``loop.getaddrinfo``'s shape, passed in so that a test can answer for a name.
Resolver: TypeAlias = Callable[[str, int], Awaitable[list[Any]]]


class TargetRefused(Exception):
    """The URL may not be used; ``code`` is stable (the problem's error code), the message says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """A checked URL and the address to connect to (the one checked: a second lookup could differ)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


async def system_resolver(host: str, port: int) -> list[Any]:
    return await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)


def parse(url: str, *, development: bool) -> tuple[str, str, int]:
    """Scheme, host and port of an endpoint URL; HTTPS only outside development."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("invalid", "is not a valid URL") from None
    schemes = ("https", "http") if development else ("https",)
    if parts.scheme not in schemes:
        raise TargetRefused("scheme", "must be an https:// URL" if not development else "must be http(s)://")
    if not parts.hostname:
        raise TargetRefused("invalid", "has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials", "must not carry credentials (user:password@)")
    if parts.fragment:
        raise TargetRefused("invalid", "must not have a fragment")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def refused(address: IPAddress) -> bool:
    """Loopback, private, link-local, shared, reserved, multicast, unspecified: not the public internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


async def resolve(url: str, *, development: bool, resolver: Resolver = system_resolver) -> Target:
    """Check the URL and every address its host resolves to; refuse if any is not public (outside development).

    Every address is checked, not only the first: a name with one public and one private address
    would otherwise reach the private one when the client tries the next. The address returned is
    the one the delivery connects to, so a DNS answer that changes after the check (rebinding)
    changes nothing.
    """
    scheme, host, port = parse(url, development=development)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await resolver(host, port)
        except OSError:
            raise TargetRefused("unresolvable", f"the host {host} does not resolve") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetRefused("unresolvable", f"the host {host} does not resolve")
    if not development:
        for address in addresses:
            if refused(address):
                raise TargetRefused("forbidden_address", f"{host} is {address}, not a public address")
    return Target(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]))
