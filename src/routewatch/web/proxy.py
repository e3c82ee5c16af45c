"""Forwarded client addresses, believed only from configured reverse proxies (web.trusted_proxies).

From anyone else X-Forwarded-For and X-Forwarded-Proto are ignored, so a client cannot pick the address
that login limits count and the audit log records. Behind a chain of trusted proxies the client is the
right-most address that is not itself one of them.

>>> proxies = Proxies(["10.0.0.0/24"])
>>> proxies.client("10.0.0.5", "203.0.113.9, 10.0.0.7")
'203.0.113.9'
>>> proxies.client("192.0.2.1", "203.0.113.9")
'192.0.2.1'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class Proxies:
    """The trusted proxy networks and how a request's real client is found through them."""

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(n, strict=False) for n in networks)

    def trusted(self, host: str) -> bool:
        """Whether `host` is one of the trusted proxies."""
        address = _address(host)
        return address is not None and any(address in n for n in self.networks)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: `peer`, or from X-Forwarded-For when `peer` is a trusted proxy."""
        if not forwarded_for or not self.trusted(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.trusted(hop):
                return hop if _address(hop) is not None else peer  # garbage from a proxy: keep what we know
        return hops[0] if hops else peer


class ProxyHeaders:
    """ASGI middleware: the scope's client and scheme as the trusted proxies say (nothing when there are none)."""

    def __init__(self, app: ASGIApp, proxies: Proxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.proxies.networks and scope.get("client"):
            peer, port = scope["client"]
            if self.proxies.trusted(peer):
                headers = Headers(scope=scope)
                scope = dict(scope)
                scope["client"] = (self.proxies.client(peer, headers.get("x-forwarded-for")), port)
                proto = headers.get("x-forwarded-proto", "").rsplit(",", 1)[-1].strip().lower()
                if proto in ("http", "https") and scope["type"] == "http":
                    scope["scheme"] = proto
        await self.app(scope, receive, send)
