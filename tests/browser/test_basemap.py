"""The basemap in a real browser: raster tiles (a local MBTiles file served by routewatch, or a configured
tile URL) drawn under the map, and the Natural Earth borders layer from web.borders_file."""

from __future__ import annotations

import http.server
import math
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from routewatch.app.demo.scenario import FRAME
from tests.browser.conftest import Server, run_server, sign_in
from tests.kits.require import require_file

BORDERS = "geo/ne_50m_admin_0_boundary_lines_land.geojson"
# Tiles alternate two colours (BGR, as OpenCV writes them) in a checkerboard, so they are easy to find.
COLOURS = ((255, 144, 30), (0, 140, 255))
ZOOMS = range(0, 19)
AROUND = 4  # tiles either side of the demo area's tile at each zoom


def _png(x: int, y: int) -> bytes:
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".png", np.full((256, 256, 3), COLOURS[(x + y) % 2], np.uint8))
    assert ok
    return bytes(data)


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def _tiles() -> Iterator[tuple[int, int, int]]:
    for z in ZOOMS:
        cx, cy = _tile_of(FRAME.lon0, FRAME.lat0, z)
        for x in range(max(0, cx - AROUND), min(1 << z, cx + AROUND + 1)):
            for y in range(max(0, cy - AROUND), min(1 << z, cy + AROUND + 1)):
                yield z, x, y


def make_mbtiles(path: Path) -> Path:
    """An MBTiles file (TMS rows) covering the demo area at every zoom used."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "test"), ("format", "png")])
        db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                       [(z, x, (1 << z) - 1 - y, _png(x, y)) for z, x, y in _tiles()])
    return path


class _TileHandler(http.server.BaseHTTPRequestHandler):
    """Any /z/x/y.png tile, made on the fly (a stand-in for an internet tile server)."""

    served: list[str]

    def do_GET(self) -> None:
        m = re.fullmatch(r"/(\d+)/(\d+)/(\d+)\.png", self.path)
        if m is None:
            self.send_error(404)
            return
        body = _png(int(m[2]), int(m[3]))
        self.served.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")  # the page is on another origin
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class Setup:
    kind: str
    server: Server
    tiles_prefix: str  # what tile request URLs start with
    borders: bool


@pytest.fixture(scope="module", params=["mbtiles", "url"])
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, ui_built: Path,
          shared_data: Path) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp(f"basemap-{request.param}")
    if request.param == "mbtiles":
        borders = require_file(shared_data / BORDERS)
        web = {"mbtiles": str(make_mbtiles(tmp / "base.mbtiles")), "borders_file": str(borders)}
        with run_server(tmp, ui_built, **web) as server:
            yield Setup("mbtiles", server, f"{server.base}/api/tiles/", True)
        return
    _TileHandler.served = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TileHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    prefix = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        with run_server(tmp, ui_built, tiles_url=prefix + "{z}/{x}/{y}.png") as server:
            yield Setup("url", server, prefix, False)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _tile_share(png: bytes) -> float:
    """The share of a screenshot's pixels that are (nearly) one of the tile colours."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).astype(int)
    near = np.zeros(image.shape[:2], bool)
    for colour in COLOURS:
        near |= np.abs(image - np.array(colour)).max(axis=2) <= 12
    return float(near.mean())


def test_raster_basemap_and_borders_are_drawn(browser: Any, setup: Setup, artifacts: Path) -> None:
    page = sign_in(browser, setup.server, "fieldy")
    kind = page.evaluate("() => fetch('/api/basemap').then((r) => r.json())")
    assert kind["source"] == setup.kind and (kind["borders_url"] is not None) is setup.borders
    # Wait until the basemap's tiles in view are loaded (not the whole map: live tracks keep it busy).
    page.wait_for_function("() => { const m = window.routewatchMap; return !!m.getLayer('basemap')"
                           " && m.isSourceLoaded('basemap') }", timeout=30_000)
    tiles = [(r.url, r.status, r.headers.get("content-type")) for r in page.responses
             if r.url.startswith(setup.tiles_prefix)]
    served = [url for url, status, ctype in tiles if status == 200 and ctype == "image/png"]
    assert len(served) >= 4, (tiles, page.evaluate("() => window.routewatchMap.getZoom()"))
    if setup.kind == "url":
        assert len(_TileHandler.served) >= len(served)
    # The tiles are under everything else and cover most of the map.
    layers = page.evaluate("() => window.routewatchMap.getStyle().layers.map((l) => l.id)")
    assert layers[:2] == ["background", "basemap"]
    share, deadline = 0.0, time.monotonic() + 15  # the frame with the loaded tiles may not be drawn yet
    while share <= 0.4 and time.monotonic() < deadline:
        share = _tile_share(page.locator("#map").screenshot())
    assert share > 0.4, f"only {share:.0%} of the map shows tile colours"
    if setup.borders:
        borders = [r for r in page.responses if r.url.endswith("/api/basemap/borders")]
        assert [(r.status, r.headers.get("content-type")) for r in borders] == [(200, "application/geo+json")]
        page.wait_for_function("() => window.routewatchMap.isSourceLoaded('borders')", timeout=30_000)
        page.wait_for_function(
            "() => window.routewatchMap.queryRenderedFeatures({layers: ['borders']}).length > 0", timeout=10_000)
        names = page.evaluate("() => window.routewatchMap.queryRenderedFeatures({layers: ['borders']})"
                              ".map((f) => f.properties.featurecla)")
        assert any("International boundary" in (n or "") for n in names), names
    else:
        assert "borders" not in layers
    page.screenshot(path=str(artifacts / f"basemap-{setup.kind}.png"))
    assert page.js_errors == []
    page.context.close()
