"""Where a webhook may point: an http(s) URL whose host is outside the denied networks.

Checked twice. When a webhook is created, so that a typo or a probe of the service's own
network is refused at once (``invalid_webhook_url``). And before every delivery, after DNS
resolution, because a name can be re-pointed at any time: the request then goes to the very
address that was checked (the URL's host is replaced by it; ``Host`` and TLS SNI keep the name),
so a name that resolves differently a moment later cannot slip past. Without the second check
the delivery log, which shows each attempt's error, would tell an admin which internal ports
answer: a port scanner.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

from takedown.config import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[Address]]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlRefused(ValueError):
    """A webhook URL that may not be used; the message is safe to show (no resolved address)."""


@dataclass(frozen=True)
class Networks:
    """The deny list and its explicit exceptions (``webhook_deny_networks`` and
    ``webhook_allow_networks``)."""

    deny: tuple[Network, ...]
    allow: tuple[Network, ...] = ()

    @classmethod
    def of(cls, deny: Iterable[str], allow: Iterable[str] = ()) -> Networks:
        return cls(
            tuple(ipaddress.ip_network(n, strict=False) for n in deny),
            tuple(ipaddress.ip_network(n, strict=False) for n in allow),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Networks:
        return cls.of(settings.webhook_deny_networks, settings.webhook_allow_networks)

    def permits(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
        if any(address in network for network in self.allow):
            return True
        return not any(address in network for network in self.deny)


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: ``urls``, one per checked address of the host (in the
    resolver's order, tried in turn when one cannot be connected to), the ``Host`` header
    and the TLS server name (None for plain http)."""

    urls: tuple[str, ...]
    host_header: str
    sni_hostname: str | None


def system_resolver(host: str, port: int) -> list[Address]:
    """Every address the name resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def _parse(url: str) -> httpx.URL:
    if len(url) > 2000 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UrlRefused("a webhook URL is one line of at most 2,000 characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise UrlRefused("not a URL") from None
    if parsed.scheme not in _DEFAULT_PORTS:
        raise UrlRefused("a webhook URL starts with https:// (or http://)")
    if not parsed.host:
        raise UrlRefused("a webhook URL names a host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise UrlRefused("a webhook URL's port is between 1 and 65535")
    if parsed.userinfo:
        raise UrlRefused("a webhook URL carries no user name or password (requests are signed)")
    return parsed


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _port(parsed: httpx.URL) -> int:
    return parsed.port or _DEFAULT_PORTS[parsed.scheme]


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed :func:`check_new` (only such a URL makes a webhook)."""

    url: str


def check_new(url: str, networks: Networks, resolve: Resolver = system_resolver) -> CheckedUrl:
    """The check when a webhook is created: scheme, host, and every address the host has now.
    A name that does not resolve yet is accepted (each delivery checks again). It resolves a
    name, so call it before a database transaction, not inside one."""
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve(host, _port(parsed))
        except OSError:
            addresses = []
    if not all(networks.permits(a) for a in addresses):
        raise UrlRefused(
            "a webhook URL may not point into a private, loopback or link-local network "
            "(webhook_deny_networks)"
        )
    return CheckedUrl(url)


def target(url: str, networks: Networks, resolve: Resolver = system_resolver) -> Target:
    """The check before a delivery: resolve, refuse if any address is denied, and pin the
    request to the checked addresses."""
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    port = _port(parsed)
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve(host, port)
        except OSError:
            raise UrlRefused("the webhook's host name does not resolve") from None
    if not addresses:
        raise UrlRefused("the webhook's host name does not resolve")
    if not all(networks.permits(a) for a in addresses):
        raise UrlRefused("the webhook's host resolves into a denied network (not sent)")
    # at most three addresses, so that connect timeouts stay well inside a claim's lease
    pinned = tuple(str(parsed.copy_with(host=str(a))) for a in list(dict.fromkeys(addresses))[:3])
    shown = f"[{host}]" if isinstance(literal, ipaddress.IPv6Address) else host
    host_header = shown if parsed.port is None else f"{shown}:{parsed.port}"
    sni = host if parsed.scheme == "https" and literal is None else None
    return Target(pinned, host_header, sni)
