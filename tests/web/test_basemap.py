"""The basemap endpoints: which basemap, MBTiles tiles (TMS flip, validation) and the borders file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from routewatch.config.web import WebConfig
from routewatch.store import Store
from routewatch.web import create_app
from tests.web.conftest import login

PNG = b"\x89PNG\r\n\x1a\n" + b"tile-1-0-0"


def make_mbtiles(path: Path) -> Path:
    """An MBTiles file with one tile: XYZ z=1 x=1 y=0 (TMS row 1)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        db.execute("INSERT INTO metadata VALUES ('format', 'png')")
        db.execute("INSERT INTO tiles VALUES (1, 1, 1, ?)", (PNG,))
    return path


@pytest.fixture
def borders(tmp_path: Path) -> Path:
    path = tmp_path / "borders.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                                "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}]}))
    return path


def _client(store: Store, settings: WebConfig, **fields: object) -> Iterator[TestClient]:
    with TestClient(create_app(store, settings.model_copy(update=fields))) as c:
        c.cookies.update(login(c, "field"))
        yield c


@pytest.fixture
def served(store: Store, settings: WebConfig, tmp_path: Path, borders: Path) -> Iterator[TestClient]:
    yield from _client(store, settings, mbtiles=make_mbtiles(tmp_path / "base.mbtiles"), borders_file=borders)


def test_no_basemap_by_default(client: TestClient) -> None:
    client.cookies.update(login(client, "field"))
    assert client.get("/api/basemap").json() == {"source": "none", "tiles_url": None, "borders_url": None}
    assert client.get("/api/tiles/1/1/0").status_code == 404
    assert client.get("/api/basemap/borders").status_code == 404


def test_a_configured_tile_url(store: Store, settings: WebConfig) -> None:
    for c in _client(store, settings, tiles_url="https://tiles.example/{z}/{x}/{y}.png"):
        assert c.get("/api/basemap").json() == {
            "source": "url", "tiles_url": "https://tiles.example/{z}/{x}/{y}.png", "borders_url": None}


def test_mbtiles_tiles_are_served_with_the_tms_flip(served: TestClient) -> None:
    assert served.get("/api/basemap").json() == {
        "source": "mbtiles", "tiles_url": "/api/tiles/{z}/{x}/{y}", "borders_url": "/api/basemap/borders"}
    got = served.get("/api/tiles/1/1/0")
    assert got.status_code == 200 and got.content == PNG and got.headers["content-type"] == "image/png"
    assert served.get("/api/tiles/1/1/1").status_code == 404  # TMS row 0: not in the file
    assert served.get("/api/tiles/5/3/3").status_code == 404


@pytest.mark.parametrize("path", ["/api/tiles/1/2/0", "/api/tiles/0/0/1", "/api/tiles/25/0/0"])
def test_tile_coordinates_outside_the_zoom_level(served: TestClient, path: str) -> None:
    assert served.get(path).status_code in (404, 422)


@pytest.mark.parametrize("path", ["/api/tiles/a/0/0", "/api/tiles/1/-1/0", "/api/tiles/1/1/0.png",
                                  "/api/tiles/1/1/0%20OR%201=1", "/api/tiles/1/1e3/0"])
def test_tile_coordinates_must_be_integers(served: TestClient, path: str) -> None:
    assert served.get(path).status_code == 422


@pytest.mark.parametrize("path", ["/api/tiles/../../etc/passwd", "/api/tiles/1/1/..%2F..%2Fbase.mbtiles",
                                  "/api/basemap/borders/../../etc/passwd", "/api/tiles/%2e%2e/1/0"])
def test_path_tricks_reach_no_file(served: TestClient, path: str) -> None:
    got = served.get(path)
    assert got.status_code in (404, 422) and b"root:" not in got.content


def test_a_broken_mbtiles_file_is_404(store: Store, settings: WebConfig, tmp_path: Path) -> None:
    bad = tmp_path / "bad.mbtiles"
    bad.write_bytes(b"not sqlite at all")
    for c in _client(store, settings, mbtiles=bad):
        assert c.get("/api/tiles/1/1/0").status_code == 404
    assert bad.read_bytes() == b"not sqlite at all"  # opened read-only, never changed


def test_borders_are_served_and_capped(served: TestClient, store: Store, settings: WebConfig,
                                       borders: Path) -> None:
    got = served.get("/api/basemap/borders")
    assert got.status_code == 200 and got.json()["type"] == "FeatureCollection"
    assert got.headers["content-type"].startswith("application/geo+json")
    for c in _client(store, settings, borders_file=borders, max_borders_bytes=10):
        assert c.get("/api/basemap/borders").status_code == 413


def test_anonymous_gets_nothing(served: TestClient) -> None:
    served.cookies.clear()
    for path in ("/api/basemap", "/api/basemap/borders", "/api/tiles/1/1/0"):
        assert served.get(path).status_code == 401
