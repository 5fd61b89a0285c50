"""Where an exchange may connect: the webhooks' address rules (``actions.addresses``) for
every exchange URL, so that an exchange admin cannot point a feed at the cloud's metadata
service or an internal port and read the answers in the exchange's errors.

Checked when an exchange is added (every URL option), and before every request after DNS
resolution, with the request pinned to the checked address (``Host`` and TLS SNI keep the
name), for both HTTP stacks: httpx (hash lists, takedown feeds) and ``requests`` (pytx's
clients). ``webhook_deny_networks`` and ``webhook_allow_networks`` apply; plain ``http://``
goes only to an address the allow list names (a stand-in on this machine), never by default.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import requests
from threatexchange.exchanges.clients.utils.common import TimeoutHTTPAdapter

from takedown.actions import addresses
from takedown.actions.addresses import Networks, UrlRefused
from takedown.config import DEFAULT_WEBHOOK_DENY
from takedown.exchanges.base import ExchangeError

DEFAULT_NETWORKS = Networks.of(DEFAULT_WEBHOOK_DENY)
"""For a caller that names none: the default deny list and no exceptions."""

URL_OPTIONS = ("url",)


class AddressRefused(ExchangeError):
    code = "exchange_address_refused"


def _pinned(url: str, networks: Networks) -> addresses.Target:
    try:
        where = addresses.target(url, networks)
    except UrlRefused as exc:
        raise AddressRefused(f"exchange URL refused: {exc}") from None
    if httpx.URL(url).scheme == "http":
        for pinned in where.urls:
            address = ipaddress.ip_address(httpx.URL(pinned).host)
            if not any(address in network for network in networks.allow):
                raise AddressRefused(
                    "exchange URL refused: plain http:// only to an address in "
                    "webhook_allow_networks; use https://"
                )
    return where


def check_options(options: dict[str, str], networks: Networks) -> None:
    """The check when an exchange is added: every URL option, as a webhook's URL is checked
    (a name that does not resolve yet is checked again at each fetch). Raises ValueError."""
    for name in URL_OPTIONS:
        url = options.get(name)
        if not url:
            continue
        try:
            checked = addresses.check_new(url, networks)
        except UrlRefused as exc:
            raise ValueError(f"{name}: {exc}".replace("a webhook URL", "an exchange URL")) from None
        parsed = httpx.URL(checked.url)
        if parsed.scheme == "http" and not _allowed_literal(parsed.host, networks):
            raise ValueError(
                f"{name} must be an https:// URL (plain http:// only to an address "
                "in webhook_allow_networks)"
            )


def _allowed_literal(host: str, networks: Networks) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks.allow)


class _GuardedTransport(httpx.BaseTransport):
    def __init__(self, networks: Networks) -> None:
        self.networks = networks
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        where = _pinned(str(request.url), self.networks)
        request.url = httpx.URL(where.urls[0])
        request.headers["Host"] = where.host_header
        if where.sni_hostname:
            request.extensions = {**request.extensions, "sni_hostname": where.sni_hostname}
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class GuardedClient(httpx.Client):
    """The HTTP client exchanges fetch with: every request checked and pinned; no redirect
    followed. Its ``networks`` also guard the ``requests`` sessions of pytx's clients."""

    def __init__(self, networks: Networks, timeout: float = 60.0) -> None:
        super().__init__(  # no proxies from the environment: they would bypass the transport
            transport=_GuardedTransport(networks),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )
        self.networks = networks


def networks_of(http: httpx.Client) -> Networks:
    return http.networks if isinstance(http, GuardedClient) else DEFAULT_NETWORKS


class GuardedAdapter(TimeoutHTTPAdapter):
    """pytx's timeout adapter, checking and pinning each request as ``_GuardedTransport``."""

    def __init__(self, networks: Networks, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.networks = networks

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        where = _pinned(str(request.url), self.networks)
        request.url = where.urls[0]
        request.headers["Host"] = where.host_header
        request._takedown_sni = where.sni_hostname  # type: ignore[attr-defined]
        return super().send(request, **kwargs)  # type: ignore[no-untyped-call,no-any-return]

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        sni = getattr(request, "_takedown_sni", None)
        if sni:
            pool_kwargs["server_hostname"] = sni
            pool_kwargs["assert_hostname"] = sni
        return host_params, pool_kwargs
