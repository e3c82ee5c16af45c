"""The whole role-by-endpoint matrix: every endpoint x anonymous, each role by session, each role by API token."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Polygon

from routewatch.model import Corridor
from routewatch.recording.evidence import encode_jpeg
from routewatch.store import Snapshot, Store
from tests.web.conftest import PASSWORD, ROLES, T0, lifecycle, login, make_alert, token_for

PUBLIC = frozenset({"anonymous", *ROLES})
READ = frozenset(ROLES)
WRITE = frozenset({"planner", "admin"})
ADMIN = frozenset({"admin"})
COVERAGE = frozenset({"commander", "planner", "admin"})  # replay and corridor work, not the field
REPLAY = frozenset({"commander", "admin"})
PRINCIPALS = ("anonymous", *ROLES, *(f"token-{r}" for r in ROLES))


def square(x: float) -> list[list[list[float]]]:
    return [[[x, 52.0], [x + 0.01, 52.0], [x + 0.01, 52.01], [x, 52.01], [x, 52.0]]]


def feature(cid: str, x: float = 5.0, name: str = "") -> dict[str, Any]:
    return {"type": "Feature", "properties": {"id": cid, "kind": "exclusion", "name": name},
            "geometry": {"type": "Polygon", "coordinates": square(x)}}


# (method, path, who may, success status, body); {who} is replaced by the principal's name.
MATRIX: list[tuple[str, str, frozenset[str], int, Any]] = [
    ("GET", "/health", PUBLIC, 200, None),
    ("GET", "/metrics", PUBLIC, 200, None),
    ("GET", "/api/status", READ, 200, None),
    ("GET", "/openapi.json", PUBLIC, 200, None),
    ("GET", "/docs", PUBLIC, 200, None),
    ("GET", "/", PUBLIC, 200, None),  # the UI's page (or how to build it): data comes only through /api
    ("GET", "/favicon.ico", PUBLIC, 200, None),
    ("GET", "/favicon.svg", PUBLIC, 200, None),
    ("GET", "/assets/{name}", PUBLIC, 404, None),  # static files need no login; a missing one is 404 for all
    ("GET", "/api/me", READ, 200, None),
    ("GET", "/api/alerts", READ, 200, None),
    ("GET", "/api/alerts/{alert}", READ, 200, None),
    ("GET", "/api/alerts/{alert}/snapshot", READ, 200, None),
    ("POST", "/api/alerts/{alert}/ack", READ, 200, {"comment": "seen by {who}"}),
    ("POST", "/api/alerts/{alert}/dismiss", READ, 200, {"comment": "false alarm ({who})"}),
    ("GET", "/api/live", READ, 200, None),
    ("GET", "/api/corridors", READ, 200, None),
    ("GET", "/api/corridors/c1", READ, 200, None),
    ("GET", "/api/corridors/c1/history", READ, 200, None),
    ("GET", "/api/corridors/c1/versions/1", READ, 200, None),
    ("GET", "/api/corridors/export?format=kml", READ, 200, None),
    ("GET", "/api/corridors/export?format=geojson", READ, 200, None),
    ("POST", "/api/corridors?comment=new", WRITE, 201, feature("new-{who}")),
    ("PUT", "/api/corridors/c2?comment=rename", WRITE, 200, feature("c2", 5.1, "renamed by {who}")),
    ("DELETE", "/api/corridors/del-{who}?comment=gone", WRITE, 200, None),
    ("POST", "/api/corridors/import?filename=set.geojson", WRITE, 200,
     {"type": "FeatureCollection", "features": [feature("imp-{who}", 5.2)]}),
    ("POST", "/api/backtest", WRITE, 200, {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}),
    ("GET", "/api/coverage?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", COVERAGE, 200, None),
    # No recordings in the matrix's app: 404 after the role check (tests/web/test_replay_api.py serves real ones).
    ("GET", "/api/replay/frame?camera=gate&t=2026-03-01T12:00:00Z", REPLAY, 404, None),
    ("GET", "/api/replay/boxes?camera=gate&from=2026-03-01T12:00:00Z&to=2026-03-01T12:01:00Z", REPLAY, 404, None),
    # Export jobs: no recordings in the matrix's app, and no such job: 404 after the role check
    # (tests/web/test_export_api.py runs real jobs).
    ("POST", "/api/replay/exports", REPLAY, 404,
     {"camera": "gate", "from": "2026-03-01T12:00:00Z", "to": "2026-03-01T12:01:00Z"}),
    ("GET", "/api/replay/exports/no-such-export-job-0", REPLAY, 404, None),
    ("GET", "/api/replay/exports/no-such-export-job-0/download", REPLAY, 404, None),
    ("GET", "/api/replay/positions?from=2026-03-01T12:00:00Z&to=2026-03-01T12:01:00Z", REPLAY, 200, None),
    ("GET", "/api/replay/cameras", REPLAY, 200, None),
    ("GET", "/api/replay/sorties?from=2026-03-01T12:00:00Z&to=2026-03-01T12:01:00Z", REPLAY, 200, None),
    ("GET", "/api/replay/corridors?t=2026-03-01T12:00:00Z", REPLAY, 200, None),
    ("GET", "/api/replay/footprints?from=2026-03-01T12:00:00Z&to=2026-03-01T12:01:00Z", REPLAY, 200, None),
    ("GET", "/api/basemap", READ, 200, None),
    ("GET", "/api/basemap/borders", READ, 404, None),  # none configured in the matrix's app: 404 after the role check
    ("GET", "/api/tiles/0/0/0", READ, 404, None),  # likewise (tests/web/test_basemap.py serves real tiles)
    ("GET", "/api/users", ADMIN, 200, None),
    ("POST", "/api/users", ADMIN, 201, {"username": "u-{who}", "password": PASSWORD, "role": "field"}),
    ("GET", "/api/tokens", ADMIN, 200, None),
    ("POST", "/api/tokens", ADMIN, 201, {"name": "t-{who}", "role": "field"}),
    ("DELETE", "/api/tokens/{token_id}", ADMIN, 204, None),
    ("GET", "/api/audit", ADMIN, 200, None),
    # No such user: 404 after the role check (tests/web/test_sessions.py changes real ones).
    ("PATCH", "/api/users/nobody-{who}", ADMIN, 404, {"role": "field"}),
    ("DELETE", "/api/users/nobody-{who}", ADMIN, 404, None),
    ("POST", "/api/logout", PUBLIC, 204, None),  # last: it ends the session
]


def _fill(value: Any, names: dict[str, str]) -> Any:
    text = json.dumps(value) if not isinstance(value, str) else value
    for key, replacement in names.items():
        text = text.replace("{" + key + "}", replacement)
    return text if isinstance(value, str) else json.loads(text)


def _role(principal: str) -> str:
    return principal.removeprefix("token-")


@pytest.fixture
def prepared(store: Store, client: TestClient) -> dict[str, dict[str, Any]]:
    """Per principal: credentials, and the corridor and token it will delete."""
    alert = make_alert()
    store.batches.write(lifecycle(alert), [])
    jpeg = encode_jpeg(np.zeros((24, 32, 3), np.uint8))
    store.snapshots.put(Snapshot(alert.id, "cam", T0, 32, 24, (2, 3, 20, 18), jpeg))
    base = [Corridor("c1", Polygon(square(5.0)[0])), Corridor("c2", Polygon(square(5.1)[0]))]
    extra = [Corridor(f"del-{p}", Polygon(square(6.0)[0])) for p in PRINCIPALS]
    store.corridors.save(base + extra, author="test", comment="setup", at=T0)
    out: dict[str, dict[str, Any]] = {}
    for principal in PRINCIPALS:
        meta, _ = store.users.add_api_token(f"victim-{principal}", "field", at=T0)
        names = {"who": principal, "alert": alert.id, "token_id": str(meta.id), "name": "no-such-asset.js"}
        creds: dict[str, Any] = {"headers": {}, "cookies": {}}
        if principal.startswith("token-"):
            creds["headers"] = token_for(store, _role(principal))
        elif principal != "anonymous":
            creds["cookies"] = login(client, principal)
        out[principal] = {"names": names, **creds}
    return out


def _call(client: TestClient, method: str, path: str, body: Any, creds: dict[str, Any]) -> int:
    client.cookies.clear()
    for key, value in creds["cookies"].items():
        client.cookies.set(key, value)
    kwargs: dict[str, Any] = {"headers": dict(creds["headers"])}
    if body is not None:
        if "import" in path:  # a file, as the UI sends it
            kwargs["content"] = json.dumps(body).encode()
            kwargs["headers"]["content-type"] = "application/octet-stream"
        else:
            kwargs["json"] = body
    if path.startswith("/api/live"):
        with client.stream(method, path, **kwargs) as response:
            return int(response.status_code)
    return int(client.request(method, path, **kwargs).status_code)


def test_every_endpoint_checks_the_role(client: TestClient, prepared: dict[str, dict[str, Any]]) -> None:
    failures = []
    for principal in PRINCIPALS:
        creds = prepared[principal]
        for method, template, allowed, ok, body in MATRIX:
            path = _fill(template, creds["names"])
            status = _call(client, method, path, _fill(body, creds["names"]) if body is not None else None, creds)
            if principal == "anonymous":
                expected = ok if "anonymous" in allowed else 401
            else:
                expected = ok if _role(principal) in allowed else 403
            if status != expected:
                failures.append(f"{principal:16} {method:6} {path}: {status}, expected {expected}")
    assert not failures, "\n".join(failures)


def test_every_route_is_in_the_matrix(client: TestClient) -> None:
    app: Any = client.app
    routes = {(m, r.path) for r in app.routes for m in getattr(r, "methods", ()) if m != "HEAD"}
    covered = {(m, p.split("?")[0]) for m, p, *_ in MATRIX}
    normalise = {"/api/alerts/{alert}": "/api/alerts/{alert_id}",
                 "/api/corridors/del-{who}": "/api/corridors/{corridor_id}",
                 "/api/corridors/c1": "/api/corridors/{corridor_id}",
                 "/api/corridors/c2": "/api/corridors/{corridor_id}",
                 "/api/corridors/c1/history": "/api/corridors/{corridor_id}/history",
                 "/api/corridors/c1/versions/1": "/api/corridors/{corridor_id}/versions/{version}",
                 "/api/tiles/0/0/0": "/api/tiles/{z}/{x}/{y}",
                 "/api/replay/exports/no-such-export-job-0": "/api/replay/exports/{job_id}",
                 "/api/replay/exports/no-such-export-job-0/download": "/api/replay/exports/{job_id}/download"}
    covered = {(m, normalise.get(p, p).replace("{alert}", "{alert_id}")) for m, p in covered}
    covered.add(("POST", "/api/login"))  # tested in test_api: it is how credentials are made
    covered.add(("POST", "/api/me/password"))  # a user's own: tested in test_sessions
    covered |= {("PATCH", "/api/users/{username}"), ("DELETE", "/api/users/{username}")}
    missing = {r for r in routes if r not in covered and not r[1].startswith("/docs/oauth2")}
    assert not missing, f"endpoints missing from the role matrix: {sorted(missing)}"


def test_bad_credentials_are_401(client: TestClient, store: Store, prepared: dict[str, dict[str, Any]]) -> None:
    meta = store.users.api_tokens()[0]
    assert client.get("/api/alerts", headers={"Authorization": "Bearer rw_nope"}).status_code == 401
    assert client.get("/api/alerts", headers={"Authorization": "Basic abc"}).status_code == 401
    client.cookies.set("routewatch_session", "forged.signature")
    assert client.get("/api/alerts").status_code == 401
    client.cookies.clear()
    headers = token_for(store, "admin")
    bot = store.users.api_tokens()[-1]
    assert client.delete(f"/api/tokens/{bot.id}", headers=headers).status_code == 204
    assert client.get("/api/alerts", headers=headers).status_code == 401  # revoked itself
    assert meta.id != bot.id
    # A disabled user's session stops working at once.
    for key, value in prepared["field"]["cookies"].items():
        client.cookies.set(key, value)
    assert client.get("/api/me").status_code == 200
    store.sessions.set_disabled("field", True)
    assert client.get("/api/me").status_code == 401
