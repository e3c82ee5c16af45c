"""Property-based tests of the geometry the engine relies on (hypothesis)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from routewatch.geo.crs import LocalFrame, angle_diff_deg, bearing_deg
from routewatch.geo.index import CorridorIndex
from routewatch.geo.linear import CentreLine
from routewatch.model import Corridor, CorridorKind

coord = st.floats(-5000, 5000, allow_nan=False)
pts = st.lists(st.tuples(coord, coord), min_size=2, max_size=8).filter(
    lambda p: all(math.dist(a, b) > 1.0 for a, b in itertools.pairwise(p)))


@given(st.floats(-179, 179), st.floats(-80, 80), st.floats(-20000, 20000), st.floats(-20000, 20000))
def test_frame_round_trip(lon0, lat0, x, y):
    f = LocalFrame(lon0, lat0)
    lon, lat = f.lonlat(x, y)
    x2, y2 = f.xy(lon, lat)
    assert math.isclose(x, x2, abs_tol=1e-4) and math.isclose(y, y2, abs_tol=1e-4)


@given(st.floats(-179, 179), st.floats(-80, 80), st.floats(0, 359.9), st.floats(1, 5000))
def test_frame_distances_are_metres(lon0, lat0, brg, dist):
    # A geodesic of known length and azimuth from the centre comes out at that length and bearing.
    import pyproj

    lon, lat, _ = pyproj.Geod(ellps="WGS84").fwd(lon0, lat0, brg, dist)
    x, y = LocalFrame(lon0, lat0).xy(lon, lat)
    assert math.isclose(math.hypot(x, y), dist, rel_tol=1e-3)
    assert angle_diff_deg(bearing_deg(x, y), brg) < 0.5


@given(pts, coord, coord)
def test_locate_matches_shapely_project(p, x, y):
    line = CentreLine(p)
    s, seg = line.locate(x, y)
    ref = LineString(p)
    assert math.isclose(s, ref.project(Point(x, y)), abs_tol=1e-6) or math.isclose(
        ref.interpolate(s).distance(Point(x, y)), ref.distance(Point(x, y)), abs_tol=1e-6)
    assert 0 <= seg < len(line.bearings)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(pts, st.floats(2, 400)), min_size=1, max_size=6),
       st.lists(st.tuples(coord, coord), min_size=0, max_size=40), st.floats(50, 3000))
def test_grid_index_agrees_with_exact_tests(shapes, points, cell):
    frame = LocalFrame(10.0, 50.0)
    corridors = [Corridor(f"c{i}", frame.to_lonlat(LineString(p)), kind=CorridorKind.CORRIDOR, width_m=w)
                 for i, (p, w) in enumerate(shapes)]
    idx = CorridorIndex(corridors, frame, hysteresis_m=5.0, cell_m=cell)
    xs = np.array([p[0] for p in points], dtype=float)
    ys = np.array([p[1] for p in points], dtype=float)
    many = idx.areas_at_many(xs, ys)
    for (x, y), got_many in zip(points, many, strict=True):
        want = sorted((c.index, bool(shapely.contains_xy(c.core, x, y))) for c in idx.compiled
                      if shapely.contains_xy(c.outer, x, y))
        assert sorted(idx.areas_at(x, y)) == want
        assert sorted(got_many) == want


@settings(max_examples=80, deadline=None)
@given(pts, coord, coord, coord, coord, st.floats(50, 3000))
def test_segment_crossings_agree_with_shapely(p, x0, y0, x1, y1, cell):
    frame = LocalFrame(10.0, 50.0)
    idx = CorridorIndex([Corridor("l", frame.to_lonlat(LineString(p)), kind=CorridorKind.LINE)], frame,
                        hysteresis_m=0.0, cell_m=cell)
    seg = LineString([(x0, y0), (x1, y1)])
    line = idx.compiled[0].line_xy[0]
    got = idx.lines_crossed(x0, y0, x1, y1)
    # Touching at an end (of the segment or of the line) is ambiguous in floating point: not judged.
    touches_ends = (LineString(line).distance(Point(x0, y0)) < 1e-6 or LineString(line).distance(Point(x1, y1)) < 1e-6
                    or seg.distance(Point(line[0])) < 1e-6 or seg.distance(Point(line[-1])) < 1e-6)
    inter = seg.intersection(LineString(line))
    # Moving along the line (a collinear overlap) is not a crossing; every point contact is.
    point_contact = not inter.is_empty and inter.geom_type in ("Point", "MultiPoint")
    if not touches_ends and seg.length > 0 and (inter.is_empty or point_contact):
        assert bool(got) == point_contact
    for c in got:
        assert 0 < c.frac <= 1
        hit = Point(x0 + c.frac * (x1 - x0), y0 + c.frac * (y1 - y0))
        assert LineString(line).distance(hit) < 1e-6


def test_a_frame_refuses_a_continent_wide_set():
    import pytest

    near = [Point(149.16, -35.36).buffer(0.01), Point(149.5, -35.0).buffer(0.01)]
    assert abs(LocalFrame.around(near).lon0 - 149.33) < 0.01
    with pytest.raises(ValueError, match="span about"):
        LocalFrame.around([*near, Point(-110.98, 31.33).buffer(0.01)])
