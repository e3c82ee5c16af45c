"""mount_ui without a browser: the built index and assets, the 'not built' page, and no path tricks."""

from __future__ import annotations

import gzip
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from routewatch.web.static import mount_ui


def _dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><div id="login-form"></div>')
    (tmp_path / "assets" / "index-abc.js").write_text("console.log('ui');" * 50)
    (tmp_path / "secret.txt").write_text("not an asset")
    return tmp_path


def test_serves_index_and_assets(tmp_path: Path) -> None:
    app = FastAPI()
    assert mount_ui(app, _dist(tmp_path)) is True
    assert mount_ui(app, tmp_path) is True  # idempotent
    with TestClient(app) as c:
        home = c.get("/")
        assert home.status_code == 200 and 'id="login-form"' in home.text
        assert home.headers["cache-control"] == "no-cache"
        js = c.get("/assets/index-abc.js", headers={"Accept-Encoding": "gzip"})
        assert js.status_code == 200 and js.headers["content-encoding"] == "gzip"
        assert "immutable" in js.headers["cache-control"] and "javascript" in js.headers["content-type"]
        assert js.text.startswith("console.log")  # httpx decodes it
        raw = c.get("/assets/index-abc.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in raw.headers and len(gzip.compress(raw.content)) < len(raw.content)
        for bad in ("/assets/../secret.txt", "/assets/..%2Fsecret.txt", "/assets/secret.txt", "/assets/nope.js"):
            assert c.get(bad).status_code == 404, bad


def test_not_built_page(tmp_path: Path) -> None:
    app = FastAPI()
    assert mount_ui(app, tmp_path / "missing") is False
    with TestClient(app) as c:
        home = c.get("/")
        assert home.status_code == 200 and "npm ci" in home.text and "npm run build" in home.text
