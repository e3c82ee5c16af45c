"""Serves the built browser UI (web-ui/dist, made by `npm ci && npm run build`) at "/".

`mount_ui(app, dist_dir)` adds `GET /` (index.html) and `GET /assets/{name}` (hashed, immutable,
gzipped once in memory when the client accepts gzip). Only files present in the dist folder when
mounted are served, so no path from a request ever reaches the file system. Without a built UI,
`/` answers a short page saying how to build it.
"""

from __future__ import annotations

import gzip
import mimetypes
import os
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

__all__ = ["default_dist_dir", "mount_ui"]

_NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>routewatch</title></head>
<body>
<h1>routewatch</h1><p>The API is running (<a href="/docs">/docs</a>), but the browser UI is not built.</p>
<p>Build it once with <code>cd web-ui &amp;&amp; npm ci &amp;&amp; npm run build</code>
(or set ROUTEWATCH_UI_DIST to a built <code>dist</code> folder) and restart routewatch.</p></body></html>"""
# The icon: a corridor (two lines) with a watched point; SVG, so one small file serves every size.
FAVICON = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" '
           b'fill="#17324d"/><path d="M4 26 L14 6 M12 26 L22 6" stroke="#3fb7a8" stroke-width="3" fill="none"/>'
           b'<circle cx="24" cy="22" r="5" fill="#f2a33a"/></svg>')
_COMPRESSIBLE = (".js", ".css", ".html", ".svg", ".json", ".map", ".txt")


def default_dist_dir() -> Path:
    """ROUTEWATCH_UI_DIST, else web-ui/dist of the source checkout this package runs from."""
    env = os.environ.get("ROUTEWATCH_UI_DIST")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "web-ui" / "dist"


@lru_cache(maxsize=64)
def _compressed(path: Path, mtime_ns: int) -> bytes:
    del mtime_ns  # part of the cache key only
    return gzip.compress(path.read_bytes(), compresslevel=9)


def _file_response(path: Path, request: Request, cache: str) -> Response:
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
    if path.suffix in _COMPRESSIBLE and "gzip" in request.headers.get("accept-encoding", ""):
        body = _compressed(path, path.stat().st_mtime_ns)
        headers["Content-Encoding"] = "gzip"
    else:
        body = path.read_bytes()
    return Response(body, media_type=media, headers=headers)


def mount_ui(app: FastAPI, dist_dir: Path | str | None = None) -> bool:
    """Serve the built UI at "/" from `dist_dir` (default: `default_dist_dir()`); True if it was found.

    Idempotent: a second call on the same app does nothing and returns the first call's answer.
    """
    done = getattr(app.state, "ui_mounted", None)
    if done is not None:
        return bool(done)

    @app.get("/favicon.ico", include_in_schema=False)
    @app.get("/favicon.svg", include_in_schema=False)
    def favicon() -> Response:
        return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
    dist = Path(dist_dir) if dist_dir is not None else default_dist_dir()
    index = dist / "index.html"
    built = index.is_file()
    app.state.ui_mounted = built

    if not built:
        @app.get("/", include_in_schema=False)
        def ui_not_built() -> HTMLResponse:
            return HTMLResponse(_NOT_BUILT)
        return False

    assets_dir = dist / "assets"
    assets = {p.name: p for p in assets_dir.iterdir() if p.is_file()} if assets_dir.is_dir() else {}

    @app.get("/", include_in_schema=False)
    def ui_index(request: Request) -> Response:
        return _file_response(index, request, "no-cache")

    @app.get("/assets/{name}", include_in_schema=False)
    def ui_asset(name: str, request: Request) -> Response:
        path = assets.get(name)
        if path is None:
            raise HTTPException(404, "no such asset")
        return _file_response(path, request, "public, max-age=31536000, immutable")

    return True
