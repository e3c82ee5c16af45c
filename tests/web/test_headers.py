"""Cross-site writes are refused beyond SameSite; every response carries the security headers; a favicon."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from routewatch.config.web import WebConfig
from routewatch.store import Store
from routewatch.web import create_app
from routewatch.web.headers import policy
from tests.web.conftest import PASSWORD, Clock, login

COLLECTION = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "z1"}, "geometry": {
    "type": "Polygon", "coordinates": [[[5.0, 52.0], [5.01, 52.0], [5.01, 52.01], [5.0, 52.0]]]}}]}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_the_corridor_import_takes_no_content_type_a_foreign_form_can_send(
    client: TestClient, content_type: str | None,
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    refused = client.post("/api/corridors/import", content=json.dumps(COLLECTION).encode(),
                          headers=headers, cookies=login(client, "planner"))
    assert refused.status_code == 415, refused.text


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/geo+json", "application/json",
                                          "application/vnd.google-earth.kml+xml"])
def test_the_corridor_import_takes_a_file_type(client: TestClient, content_type: str) -> None:
    got = client.post("/api/corridors/import", content=json.dumps(COLLECTION).encode(),
                      headers={"content-type": content_type}, cookies=login(client, "planner"))
    assert got.status_code != 415


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/alerts/a1/ack"), ("POST", "/api/corridors"),
                                              ("PUT", "/api/corridors/z1"), ("POST", "/api/login")])
def test_json_routes_take_json_only(client: TestClient, method: str, path: str) -> None:
    got = client.request(method, path, content=b'{"comment": "x"}', headers={"content-type": "text/plain"},
                         cookies=login(client, "admin"))
    assert got.status_code == 415


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "https://testserver", "http://testserver:8080"])
def test_a_foreign_origin_may_not_write(client: TestClient, origin: str) -> None:
    cookie = login(client, "planner")
    for method, path, body in [("POST", "/api/corridors/import", json.dumps(COLLECTION).encode()),
                               ("POST", "/api/logout", None), ("DELETE", "/api/corridors/z1", None)]:
        got = client.request(method, path, content=body, cookies=cookie,
                             headers={"origin": origin, "content-type": "application/octet-stream"})
        assert got.status_code == 403, (method, path)
        assert "cross-site request refused" in got.json()["detail"]
    assert client.get("/api/corridors", cookies=cookie, headers={"origin": origin}).status_code == 200  # reads: fine


def test_the_servers_own_origin_may_write(client: TestClient) -> None:
    got = client.post("/api/login", json={"username": "field", "password": PASSWORD},
                      headers={"origin": "http://testserver"})
    assert got.status_code == 200


@pytest.mark.parametrize("path", ["/", "/api/me", "/health", "/api/login", "/favicon.ico", "/nowhere"])
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    got = client.get(path)
    csp = got.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["referrer-policy"] == "no-referrer"
    assert got.headers["x-frame-options"] == "DENY"


def test_the_api_page_is_swagger_alone(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404  # its CDN script would be refused by the policy
    assert "cdn.jsdelivr.net" in client.get("/docs").headers["content-security-policy"]


def test_the_policy_lets_the_configured_tile_server_in() -> None:
    csp = policy("https://tiles.example.org:8443/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://tiles.example.org:8443;" in csp
    assert "connect-src 'self' https://tiles.example.org:8443;" in csp


def test_a_favicon_is_served(client: TestClient) -> None:
    for path in ("/favicon.ico", "/favicon.svg"):
        got = client.get(path)
        assert got.status_code == 200 and got.headers["content-type"] == "image/svg+xml"
        assert got.content.startswith(b"<svg")


def _cookie_flags(client: TestClient, **headers: str) -> str:
    got = client.post("/api/login", json={"username": "field", "password": PASSWORD}, headers=headers)
    assert got.status_code == 200
    return got.headers["set-cookie"].lower()


def test_the_cookie_is_secure_over_tls_or_behind_an_https_proxy(store: Store, clock: Clock) -> None:
    with TestClient(create_app(store, WebConfig(), clock=clock)) as plain:
        assert "secure" not in _cookie_flags(plain)
        assert "secure" not in _cookie_flags(plain, **{"x-forwarded-proto": "https"})  # nobody trusted
    with TestClient(create_app(store, WebConfig(), clock=clock), base_url="https://testserver") as tls:
        assert "; secure" in _cookie_flags(tls)
    proxied = WebConfig(trusted_proxies=("10.0.0.1",))
    with TestClient(create_app(store, proxied, clock=clock), client=("10.0.0.1", 1234)) as behind:
        assert "; secure" in _cookie_flags(behind, **{"x-forwarded-proto": "https"})
        assert "secure" not in _cookie_flags(behind, **{"x-forwarded-proto": "http"})
    with TestClient(create_app(store, WebConfig(cookie_secure=True), clock=clock)) as configured:
        assert "; secure" in _cookie_flags(configured)
    assert "httponly" in _cookie_flags(TestClient(create_app(store, WebConfig(), clock=clock)))
