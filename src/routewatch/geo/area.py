"""An area of interest from a GeoJSON file: the union of its polygons (lon/lat)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

MAX_BYTES = 20 * 1024 * 1024


def load_area(path: Path) -> BaseGeometry:
    """Polygons of a GeoJSON geometry, Feature or FeatureCollection, unioned; ValueError says what is wrong.

    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".geojson", delete=False)
    >>> _ = f.write('{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}'); f.close()
    >>> load_area(Path(f.name)).area
    0.5
    >>> os.unlink(f.name)
    """
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: larger than {MAX_BYTES} bytes")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not GeoJSON ({exc})") from None
    polys = [g for g in _geometries(doc) if isinstance(g, Polygon | MultiPolygon)]
    if not polys:
        raise ValueError(f"{path}: no Polygon or MultiPolygon in it")
    bad = [shapely.is_valid_reason(p) for p in polys if not p.is_valid]
    if bad:
        raise ValueError(f"{path}: invalid polygon: {bad[0]}")
    area = shapely.union_all(polys)
    minx, miny, maxx, maxy = area.bounds
    if not (minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90):
        raise ValueError(f"{path}: coordinates out of lon/lat range (GeoJSON is lon, lat)")
    return area


def _geometries(doc: Any) -> list[BaseGeometry]:
    if not isinstance(doc, dict):
        raise ValueError("GeoJSON must be an object")
    kind = doc.get("type")
    try:
        if kind == "FeatureCollection":
            return [g for f in doc.get("features") or [] for g in _geometries(f)]
        if kind == "Feature":
            return [] if doc.get("geometry") is None else [shape(doc["geometry"])]
        return [shape(doc)]
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
        raise ValueError(f"bad GeoJSON geometry: {exc}") from None
