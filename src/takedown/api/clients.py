"""Who is asking: the client's address, believing ``X-Forwarded-For`` only from our own proxies.

Any client can send ``X-Forwarded-For: <anything>``; believed from anyone, it lets one client
pick a fresh rate-limit bucket per request. So the peer (the TCP connection's other end) is the
client, unless the peer is one of ``trusted_proxies``: then the header is read from the right
(each proxy appends the address it saw), skipping our proxies, and the first address that is
not one of them is the client. What a client wrote to the left of that is never read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from fastapi import Request

from takedown.api.state import app_state

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"
MAX_HOPS = 32  # a longer chain is not ours: nobody runs 32 proxies


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        return cls(tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries))

    def __contains__(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in network for network in self.networks)


def _address(host: str) -> Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _host(hop: str) -> str:
    """The address in one ``X-Forwarded-For`` entry: ``1.2.3.4``, ``1.2.3.4:5678``,
    ``[2001:db8::1]:443`` or ``2001:db8::1``."""
    hop = hop.strip().strip('"')
    if hop.startswith("["):
        return hop[1 : hop.find("]")] if "]" in hop else hop
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


def normalise(host: str) -> str:
    """One spelling per address (``::ffff:1.2.3.4`` is ``1.2.3.4``); anything else as sent,
    cut short (it is only ever hashed)."""
    address = _address(host)
    return str(address) if address is not None else host[:100]


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: TrustedProxies) -> str:
    """The client's address (pure: see the module docstring)."""
    if not peer:
        return UNKNOWN
    if peer not in trusted:
        return normalise(peer)
    hops = [_host(hop) for header in forwarded_for for hop in header.split(",")]
    hops = [hop for hop in hops if hop][-MAX_HOPS:]
    for hop in reversed(hops):
        if hop not in trusted:
            return normalise(hop)
    # every hop is one of ours (a health check from the proxy itself, say)
    return normalise(hops[0]) if hops else normalise(peer)


@lru_cache(maxsize=16)
def _trusted(entries: tuple[str, ...]) -> TrustedProxies:
    return TrustedProxies.parse(entries)


def request_client(request: Request) -> str:
    """The address of the client that sent ``request``."""
    trusted = _trusted(tuple(app_state(request).settings.trusted_proxies))
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), trusted)
