"""Basemap: which one the UI uses, raster tiles from a local MBTiles file, and a local borders GeoJSON.

Paths come only from the config file (`web` section), never from a request; tile coordinates are
validated integers. MBTiles rows are in TMS order, so y is flipped from the XYZ scheme the UI asks in.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import Response

from routewatch.web.deps import Reader, SettingsDep
from routewatch.web.schemas import Basemap

router = APIRouter(prefix="/api", tags=["basemap"])
TILES_URL = "/api/tiles/{z}/{x}/{y}"
_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}


def read_tile(path: Path, z: int, x: int, y: int) -> bytes | None:
    """The tile at XYZ (z, x, y) from an MBTiles file opened read-only, or None."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=2)) as db:
            row = db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, x, (1 << z) - 1 - y),
            ).fetchone()
    except sqlite3.Error:
        return None
    return bytes(row[0]) if row is not None and row[0] is not None else None


def _media(data: bytes) -> str:
    return next((m for magic, m in _MAGIC.items() if data.startswith(magic)), "application/octet-stream")


@router.get("/basemap")
def basemap(s: SettingsDep, _: Reader) -> Basemap:
    """Which basemap the map draws: a tile URL (configured, or the served MBTiles) or none, and borders."""
    tiles = TILES_URL if s.mbtiles is not None else s.tiles_url
    source = "mbtiles" if s.mbtiles is not None else "url" if s.tiles_url else "none"
    borders = "/api/basemap/borders" if s.borders_file is not None else None
    return Basemap(source=source, tiles_url=tiles, borders_url=borders)


@router.get("/basemap/borders", response_class=Response, responses={200: {
    "content": {"application/geo+json": {}}, "description": "The borders GeoJSON."}})
def borders(s: SettingsDep, _: Reader) -> Response:
    """The configured borders GeoJSON (404 when none; 413 when over the size cap)."""
    path = s.borders_file
    if path is None or not path.is_file():
        raise HTTPException(404, "no borders file is configured")
    if path.stat().st_size > s.max_borders_bytes:
        raise HTTPException(413, f"the borders file is over {s.max_borders_bytes} bytes")
    return Response(path.read_bytes(), media_type="application/geo+json",
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/tiles/{z}/{x}/{y}", response_class=Response, responses={200: {
    "content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}, "description": "The tile."}})
def tile(
    s: SettingsDep, _: Reader,
    z: Annotated[int, PathParam(ge=0, le=24)], x: Annotated[int, PathParam(ge=0)], y: Annotated[int, PathParam(ge=0)],
) -> Response:
    """One raster tile (XYZ) from the configured MBTiles file; 404 when there is none."""
    path = s.mbtiles
    if path is None or not path.is_file():
        raise HTTPException(404, "no MBTiles file is configured")
    if x >= 1 << z or y >= 1 << z:
        raise HTTPException(404, "no such tile")
    data = read_tile(path, z, x, y)
    if data is None:
        raise HTTPException(404, "no such tile")
    return Response(data, media_type=_media(data), headers={"Cache-Control": "private, max-age=86400"})
