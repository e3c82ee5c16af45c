"""Geometry half of corridor-file validation: GeoJSON-like coordinates to a valid Shapely geometry.

Problems are appended to a list of messages rather than raised, so one pass reports all of them.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

_MAX_COORD_PROBLEMS = 3

Pos = tuple[float, float]

DEPTH = {"LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def parse_geometry(geom: object, errs: list[str]) -> BaseGeometry | None:
    """Check a GeoJSON-like geometry; return it (Z dropped, rings oriented) or append problems to errs."""
    if geom is None:
        errs.append("no geometry")
        return None
    if not isinstance(geom, Mapping):
        errs.append(f"geometry must be an object, got {short(geom)}")
        return None
    gtype = geom.get("type")
    if gtype in ("Point", "MultiPoint"):
        errs.append(f"a {gtype} is not a geofence: draw a Polygon around the place, or a LineString with width_m")
        return None
    if not isinstance(gtype, str) or gtype not in DEPTH:
        errs.append(
            f"geometry type {short(gtype)} not supported: use Polygon, MultiPolygon, LineString or MultiLineString"
        )
        return None
    before = len(errs)
    tree = _nest(geom.get("coordinates"), DEPTH[gtype], "coordinates", errs)
    if tree is None or len(errs) > before:
        return None
    paths = _paths(gtype, tree)
    if not any(points for _, _, points in paths):
        errs.append(f"empty geometry: the {gtype} has no coordinates")
        return None
    if not _check_ranges([p for _, _, points in paths for p in points], errs):
        return None
    cleaned = [_check_path(label, ring, points, errs) for label, ring, points in paths]
    if len(errs) > before:
        return None
    shape = _build(gtype, tree, cleaned)
    reason = shapely.is_valid_reason(shape)
    if reason != "Valid Geometry":
        match = re.fullmatch(r"(.*?)\[(\S+) (\S+)\]", reason)
        where = f" near {_pt((float(match[2]), float(match[3])))}" if match else ""
        errs.append(f"invalid geometry: {(match[1] if match else reason).lower()}{where}")
        return None
    return shape


def _nest(value: object, depth: int, path: str, errs: list[str]) -> list[Any] | None:
    if not isinstance(value, list | tuple):
        errs.append(f"{path} must be an array, got {short(value)}")
        return None
    if depth == 0:
        numbers = [number(v) for v in value[:2]]
        if len(value) < 2 or None in numbers:
            errs.append(f"{path} must be a [lon, lat] pair of finite numbers, got {short(value)}")
            return None
        return [numbers[0], numbers[1]]  # Z and anything after it is dropped on purpose
    items = []
    for i, v in enumerate(value):
        item = _nest(v, depth - 1, f"{path}[{i}]", errs)
        if item is None:
            return None  # the first bad position is enough; a broken file could have millions
        items.append(item)
    return items


def _paths(gtype: str, tree: list[Any]) -> list[tuple[str, bool, list[Pos]]]:
    if gtype == "LineString":
        return [("line", False, tree)]
    if gtype == "MultiLineString":
        return [(f"line {i}", False, p) for i, p in enumerate(tree)]
    one = gtype == "Polygon"
    return [
        (("" if one else f"polygon {i} ") + f"ring {j}", True, r)
        for i, poly in enumerate(_polygons(gtype, tree))
        for j, r in enumerate(poly)
    ]


def _check_ranges(points: list[Pos], errs: list[str]) -> bool:
    bad = [p for p in points if not _in_range(p)]
    if not bad:
        return True
    if all(_in_range((y, x)) for x, y in points):
        errs.append(
            f"lat/lon swapped? {_pt(bad[0])} is out of range as lon,lat but every point fits as lat,lon"
            " (GeoJSON and KML positions are lon,lat)"
        )
        return False
    for p in bad[:_MAX_COORD_PROBLEMS]:
        errs.append(f"coordinate {_pt(p)} out of range (lon -180..180, lat -90..90)")
    if len(bad) > _MAX_COORD_PROBLEMS:
        errs.append(f"... and {len(bad) - _MAX_COORD_PROBLEMS} more coordinates out of range")
    return False


def _check_path(label: str, ring: bool, points: list[Pos], errs: list[str]) -> list[Pos]:
    if ring and points and points[0] != points[-1]:
        errs.append(f"{label} is not closed: first point {_pt(points[0])} differs from last {_pt(points[-1])}")
    kept: list[Pos] = [(p[0], p[1]) for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    need = 4 if ring else 2
    if len(kept) < need:
        what = "a ring needs at least 4 (the first repeated last)" if ring else "a line needs at least 2"
        errs.append(f"{label} has {len(kept)} points after removing repeats; {what}")
    for a, b in itertools.pairwise(kept):
        # an edge along a pole (Antarctica's ring runs from 180 to -180 at lat -90) is the map's edge, not a crossing
        if abs(a[0] - b[0]) > 180 and not (abs(a[1]) == abs(b[1]) == 90):
            errs.append(
                f"{label} crosses the antimeridian between {_pt(a)} and {_pt(b)}; it is not split for you:"
                " cut it at 180° into two features"
            )
            break
    return kept


def _build(gtype: str, tree: list[Any], cleaned: list[list[Pos]]) -> BaseGeometry:
    if gtype == "LineString":
        return LineString(cleaned[0])
    if gtype == "MultiLineString":
        return MultiLineString(cleaned)
    it = iter(cleaned)
    # rings arrive flattened in _paths order: each polygon's shell, then its holes
    polys = [orient(Polygon(next(it), [next(it) for _ in poly[1:]]), 1.0) for poly in _polygons(gtype, tree)]
    return polys[0] if gtype == "Polygon" else MultiPolygon(polys)


def _polygons(gtype: str, tree: list[Any]) -> list[list[Any]]:
    return [tree] if gtype == "Polygon" else tree


def _in_range(p: Pos) -> bool:
    return -180.0 <= p[0] <= 180.0 and -90.0 <= p[1] <= 90.0


def number(value: object) -> float | None:
    """The value as a finite float, or None when it is not a finite JSON number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def _pt(p: Sequence[float]) -> str:
    return f"({round(p[0], 6)!r}, {round(p[1], 6)!r})"


def short(value: object) -> str:
    """repr() of a value, cut to fit in a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
