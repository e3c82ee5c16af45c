"""Forwarded addresses are believed only from configured proxies (web.trusted_proxies, default none)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from routewatch.config.web import WebConfig
from routewatch.store import Store
from routewatch.web.proxy import Proxies
from tests.web.realserver import serve


@pytest.mark.parametrize(("networks", "peer", "forwarded", "client"), [
    ([], "127.0.0.1", "6.6.6.6", "127.0.0.1"),                               # none trusted: ignored
    (["10.0.0.1"], "127.0.0.1", "6.6.6.6", "127.0.0.1"),                     # not from the proxy: ignored
    (["10.0.0.1"], "10.0.0.1", "203.0.113.9", "203.0.113.9"),
    (["10.0.0.1"], "10.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),       # a client's own entry comes first
    (["10.0.0.0/24"], "10.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),  # a chain of proxies
    (["10.0.0.1"], "10.0.0.1", "not-an-address", "10.0.0.1"),
    (["10.0.0.1"], "10.0.0.1", None, "10.0.0.1"),
    (["::1"], "::1", "2001:db8::7", "2001:db8::7"),
])
def test_the_client_is_found_through_trusted_proxies_only(
    networks: list[str], peer: str, forwarded: str | None, client: str,
) -> None:
    assert Proxies(networks).client(peer, forwarded) == client


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert WebConfig(trusted_proxies=["10.0.0.5", "10.1.0.0/16", "::1"]).trusted_proxies
    with pytest.raises(ValidationError, match=r"'proxy\.example' is not an IP address or network"):
        WebConfig(trusted_proxies=["proxy.example"])


def _fail_logins(base: str, n: int, forwarded: str) -> list[int]:
    with httpx.Client(base_url=base, timeout=30) as c:
        return [c.post("/api/login", json={"username": f"nobody{i}", "password": "wrong password"},
                       headers={"X-Forwarded-For": forwarded.format(i=i)}).status_code for i in range(n)]


def test_a_spoofed_forwarded_for_neither_dodges_the_limit_nor_reaches_the_audit_log(
    db_url: str, store: Store,
) -> None:
    limits = {"per_user": 5, "per_address": 3, "lockout_s": 60.0}
    with serve(db_url, login_limits=limits) as server:  # as `routewatch run` serves it: no proxy configured
        assert _fail_logins(server.base, 4, "10.9.9.{i}") == [401, 401, 401, 429]
    details = [e.detail for e in store.audit.entries(action="login_failed")]
    assert details == ["127.0.0.1", "127.0.0.1", "127.0.0.1; locked for 60 s"]


def test_a_trusted_proxy_gives_the_client_address(db_url: str, store: Store) -> None:
    limits = {"per_user": 5, "per_address": 3, "lockout_s": 60.0}
    with serve(db_url, login_limits=limits, trusted_proxies=["127.0.0.1"]) as server:
        assert _fail_logins(server.base, 4, "6.6.6.6, 10.9.9.{i}") == [401] * 4  # four clients, each counted
    assert [e.detail for e in store.audit.entries(action="login_failed")] == [f"10.9.9.{i}" for i in range(4)]
