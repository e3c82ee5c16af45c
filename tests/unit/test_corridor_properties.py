"""Property tests of corridor-file geometry: round trips, orientation, and refusals, on random shapes."""

from __future__ import annotations

import dataclasses
import json
import string
from typing import Any

import pytest
import shapely
from hypothesis import assume, given
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry

from routewatch.geo.corridors import ID_RE, CorridorError, dumps_geojson, load_corridors, parse_geojson, to_geojson
from routewatch.geo.kml import parse_kml, to_kml
from routewatch.model import Corridor, CorridorKind, Direction, Severity

# a box around the CMAC field, about 11 x 13 km
lons = st.floats(149.10, 149.22, allow_nan=False)
lats = st.floats(-35.42, -35.30, allow_nan=False)
points = st.tuples(lons, lats)


@st.composite
def convex_polygons(draw: st.DrawFn) -> Polygon:
    hull = MultiPoint(draw(st.lists(points, min_size=3, max_size=12, unique=True))).convex_hull
    assume(hull.geom_type == "Polygon" and hull.area > 1e-10)
    return hull


@st.composite
def buffered_points(draw: st.DrawFn) -> Polygon:
    radius = draw(st.floats(1e-4, 1e-2))
    disc = Point(draw(points)).buffer(radius, quad_segs=draw(st.integers(2, 8)))
    if draw(st.booleans()):
        disc = disc.difference(Point(disc.centroid).buffer(radius / 3, quad_segs=3))
    return disc


polygons = st.one_of(convex_polygons(), buffered_points())


@st.composite
def multipolygons(draw: st.DrawFn) -> MultiPolygon:
    a, b = draw(polygons), draw(polygons)
    assume(a.distance(b) > 1e-6)
    return MultiPolygon([a, b])


lines = st.lists(points, min_size=2, max_size=10, unique=True).map(LineString)
multilines = st.lists(lines, min_size=1, max_size=3).map(MultiLineString)
words = st.text(string.ascii_letters + string.digits + "-_ ,", min_size=1, max_size=8)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn", "Co")), max_size=20).map(str.strip)
positive = st.floats(1e-3, 1e6, allow_nan=False)


@st.composite
def corridors(draw: st.DrawFn, cid: str | None = None) -> Corridor:
    geometry: BaseGeometry = draw(st.one_of(polygons, multipolygons(), lines, multilines))
    is_line = geometry.geom_type in ("LineString", "MultiLineString")
    kinds = [CorridorKind.LINE, CorridorKind.CORRIDOR] if is_line else [k for k in CorridorKind if k != "line"]
    kind = draw(st.sampled_from(kinds))
    centre_line = is_line and kind is CorridorKind.CORRIDOR
    return Corridor(
        id=cid or draw(st.from_regex(ID_RE, fullmatch=True)),
        geometry=geometry,
        kind=kind,
        version=draw(st.integers(1, 1000)),
        name=draw(names),
        width_m=draw(st.floats(0.5, 50_000)) if centre_line else None,
        direction=draw(st.none() | st.sampled_from(Direction)) if centre_line else None,
        classes=draw(st.frozensets(words, max_size=3)),
        min_dwell_s=draw(st.none() | positive),
        min_progress_m=draw(st.none() | positive),
        severity=draw(st.none() | st.sampled_from(Severity)),
        subjects=draw(st.frozensets(words, max_size=2)) if kind is CorridorKind.OPERATING_AREA else frozenset(),
    )


corridor_sets = st.lists(corridors(), max_size=5, unique_by=lambda c: c.id).map(tuple)


def assert_same(loaded: tuple[Corridor, ...], drawn: tuple[Corridor, ...]) -> None:
    assert len(loaded) == len(drawn)
    for got, want in zip(loaded, drawn, strict=True):
        assert dataclasses.replace(got, geometry=want.geometry) == want
        assert got.geometry.geom_type == want.geometry.geom_type
        assert got.geometry.normalize().equals_exact(want.geometry.normalize(), 1e-12)


@given(corridor_sets)
def test_geojson_round_trip(drawn: tuple[Corridor, ...]) -> None:
    loaded = load_corridors(dumps_geojson(drawn))
    assert_same(loaded, drawn)
    assert load_corridors(dumps_geojson(loaded)) == loaded  # a second trip changes nothing at all


@given(corridor_sets)
def test_kml_round_trip(drawn: tuple[Corridor, ...]) -> None:
    loaded = parse_kml(to_kml(drawn))
    assert_same(loaded, drawn)
    assert parse_kml(to_kml(loaded)) == loaded
    assert load_corridors(dumps_geojson(loaded)) == loaded  # KML and GeoJSON agree


@given(st.one_of(polygons, multipolygons()), st.booleans())
def test_rings_are_oriented_on_import(geometry: BaseGeometry, flip: bool) -> None:
    drawn = geometry.reverse() if flip else geometry
    [c] = parse_geojson(to_geojson([Corridor("a", drawn, kind=CorridorKind.EXCLUSION)]))
    assert c.geometry.equals(geometry)
    for poly in getattr(c.geometry, "geoms", [c.geometry]):
        assert shapely.is_ccw(poly.exterior)
        assert not any(shapely.is_ccw(ring) for ring in poly.interiors)


def swap(value: Any) -> Any:
    if isinstance(value, tuple | list) and value and isinstance(value[0], float):
        return [value[1], value[0]]
    return [swap(v) for v in value]


@given(st.one_of(polygons, lines))
def test_swapped_coordinates_are_named(geometry: BaseGeometry) -> None:
    doc = to_geojson(
        [
            Corridor(
                "s", geometry, kind=CorridorKind.LINE if geometry.geom_type == "LineString" else CorridorKind.EXCLUSION
            )
        ]
    )
    geom = doc["features"][0]["geometry"]
    geom["coordinates"] = swap(geom["coordinates"])
    with pytest.raises(CorridorError) as info:
        parse_geojson(doc)
    [problem] = info.value.problems
    assert str(problem).startswith("feature 0 (id 's'): lat/lon swapped?")


@given(st.lists(points, min_size=2, max_size=8), st.data())
def test_z_and_repeated_vertices_change_nothing(vertices: list[tuple[float, float]], data: st.DataObject) -> None:
    assume(len({tuple(v) for v in vertices}) >= 2)
    noisy = []
    for x, y in vertices:
        noisy += [[x, y, data.draw(st.floats(-100, 3000))]] * data.draw(st.integers(1, 3))
    feature = {
        "type": "Feature",
        "id": "z",
        "properties": {"kind": "line"},
        "geometry": {"type": "LineString", "coordinates": noisy},
    }
    [c] = parse_geojson({"type": "FeatureCollection", "features": [feature]})
    kept = [v for i, v in enumerate(vertices) if i == 0 or v != vertices[i - 1]]
    assert list(c.geometry.coords) == kept and not c.geometry.has_z


@given(st.floats(179.0, 180.0), st.floats(-180.0, -179.0), lats, lats)
def test_antimeridian_crossings_are_refused(east: float, west: float, lat1: float, lat2: float) -> None:
    assume(east - west > 180)
    line = mapping(LineString([(east, lat1), (west, lat2)]))
    feature = {"type": "Feature", "id": "am", "properties": {"kind": "line"}, "geometry": line}
    with pytest.raises(CorridorError, match="feature 0 \\(id 'am'\\): line crosses the antimeridian"):
        parse_geojson(json.loads(json.dumps({"type": "FeatureCollection", "features": [feature]})))
