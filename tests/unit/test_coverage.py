"""Camera footprints on the ground and coverage of corridors over time (geo.footprint, geo.coverage)."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from routewatch.geo.camera import Pinhole
from routewatch.geo.coverage import (
    CorridorSpan,
    CoverageError,
    check_window,
    corridor_coverage,
    spans_in_force,
)
from routewatch.geo.crs import LocalFrame
from routewatch.geo.footprint import Footprint, FootprintSampler, drone_footprint, fixed_footprint, moved_m
from routewatch.geo.homography import Calibration, GroundControlPoint
from routewatch.model import CameraPose, Corridor, CorridorKind

FRAME = LocalFrame(23.5, 17.2)
T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def ll(geom):  # metres in FRAME -> lon/lat
    return FRAME.to_lonlat(geom)


# -- a fixed pinhole camera, written out here (independent of routewatch.geo) ---------------------

@dataclasses.dataclass(frozen=True)
class Mast:
    """A camera `height_m` above (0, 0) looking north, `pitch_deg` below the horizon."""

    height_m: float = 12.0
    pitch_deg: float = 20.0
    focal_px: float = 800.0
    width: int = 1280
    height: int = 720

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = math.radians(self.pitch_deg)
        fwd = np.array([0.0, math.cos(p), -math.sin(p)])
        right = np.array([1.0, 0.0, 0.0])
        return right, np.cross(fwd, right), fwd

    def project(self, x: float, y: float) -> tuple[float, float] | None:
        right, down, fwd = self.axes()
        d = np.array([x, y, -self.height_m])
        z = d @ fwd
        if z <= 0:
            return None
        return self.width / 2 + self.focal_px * (d @ right) / z, self.height / 2 + self.focal_px * (d @ down) / z

    def ground(self, u: float, v: float) -> tuple[float, float] | None:
        right, down, fwd = self.axes()
        ray = fwd + right * (u - self.width / 2) / self.focal_px + down * (v - self.height / 2) / self.focal_px
        if ray[2] >= 0:
            return None
        t = self.height_m / -ray[2]
        return float(ray[0] * t), float(ray[1] * t)

    def calibration(self) -> Calibration:
        gcps = []
        for x, y in [(-5, 20), (5, 20), (-8, 40), (8, 40), (0, 30), (-3, 60)]:
            uv = self.project(x, y)
            assert uv is not None
            gcps.append(GroundControlPoint(uv[0], uv[1], *FRAME.lonlat(x, y)))
        return Calibration.from_gcps(gcps, max_error_m=0.01)


@pytest.mark.parametrize(("mast", "range_m", "horizon_in_view"), [
    (Mast(pitch_deg=45.0), 1000.0, False),  # steep: the whole image is ground, a quadrilateral
    (Mast(pitch_deg=30.0), 1000.0, False),
    (Mast(pitch_deg=5.0), 300.0, True),  # the top of the image is sky: cut by the range
    (Mast(pitch_deg=30.0), 30.0, False),  # the range cuts the far part off
])
def test_fixed_footprint_is_what_the_camera_sees(mast, range_m, horizon_in_view):
    poly = FRAME.to_local(fixed_footprint(mast.calibration(), mast.width, mast.height, range_m))
    assert poly.is_valid and not poly.is_empty
    near = mast.ground(mast.width / 2, mast.height)
    assert near is not None
    corners = [mast.ground(u, v) for u, v in [(0, 0), (mast.width, 0), (mast.width, mast.height), (0, mast.height)]]
    assert (None in corners) == horizon_in_view
    # Pixels over the whole image, cast onto the ground: inside the footprint iff within range.
    inside = outside = 0
    for u in np.linspace(1, mast.width - 1, 25):
        for v in np.linspace(1, mast.height - 1, 25):
            g = mast.ground(u, v)
            if g is None:
                continue
            d = math.dist(g, near)
            if d < range_m - 0.5:
                assert poly.buffer(0.05).contains(Point(g)), (u, v, g)
                inside += 1
            elif d > range_m + 0.5:
                assert not poly.contains(Point(g)), (u, v, g)
                outside += 1
    assert inside > 100
    # Ground just outside the image's sides is not in the footprint.
    for v in (mast.height * 0.9, mast.height * 0.99):
        for u in (-30.0, mast.width + 30.0):
            g = mast.ground(u, v)
            assert g is not None and not poly.contains(Point(g))
    far = max(math.dist(near, c) for c in poly.exterior.coords)
    if not horizon_in_view and all(math.dist(near, c) < range_m for c in corners if c is not None):
        assert abs(poly.area - Polygon(corners).area) < 1e-3 * poly.area  # exactly the projected image
    else:
        assert abs(far - range_m) < 0.01 * range_m  # the range is the far edge


def test_fixed_footprint_all_sky_is_empty():
    mast = Mast(pitch_deg=20.0)
    cal = mast.calibration()
    # The same homography with the image's rows read upside down: only sky in a 1280 x 200 strip above the horizon.
    top = mast.project(0.0, 1e6)
    assert top is not None
    h = np.asarray(cal.homography).reshape(3, 3) @ np.array([[1, 0, 0], [0, 1, top[1] - 250.0], [0, 0, 1]])
    sky = Calibration(cal.gcps, tuple(h.ravel()), cal.origin_lon, cal.origin_lat, max_error_m=1e9)
    assert sky.to_ground(640, 200) is None and sky.to_ground(0, 0) is None
    assert fixed_footprint(sky, 1280, 200, 1000.0).is_empty


@pytest.mark.parametrize("bad", [(0, 10, 10.0), (10, -1, 10.0), (10, 10, 0.0), (10, 10, math.nan)])
def test_fixed_footprint_refuses_bad_sizes(bad):
    with pytest.raises(ValueError):
        fixed_footprint(Mast().calibration(), *bad)


CAM = Pinhole.from_fov(640, 480, 70.0)


@pytest.mark.parametrize(("pose", "ground", "range_m", "expect"), [
    (CameraPose(17.2, 23.5, 100.0, el_deg=-90.0), 0.0, 1e4, "quad"),
    (CameraPose(17.2, 23.5, 180.0, heading_deg=30.0, az_deg=10.0, el_deg=-55.0, sensor_roll_deg=4.0), 80.0, 1e4,
     "quad"),
    (CameraPose(17.2, 23.5, 100.0, heading_deg=200.0, el_deg=-10.0), 0.0, 800.0, "range"),  # horizon in view
    (CameraPose(17.2, 23.5, 100.0, el_deg=30.0), 0.0, 1e4, "empty"),  # looking up: all sky
    (CameraPose(17.2, 23.5, 50.0, el_deg=-90.0), 60.0, 1e4, "empty"),  # below the ground
])
def test_drone_footprint(pose, ground, range_m, expect):
    fp = drone_footprint(pose, CAM, ground, range_m)
    if expect == "empty":
        assert fp.is_empty
        return
    frame = LocalFrame(pose.lon, pose.lat)
    poly = frame.to_local(fp)
    pixels = [(x, y) for x in np.linspace(0.5, CAM.width - 0.5, 21) for y in np.linspace(0.5, CAM.height - 0.5, 21)]
    seen = [g for g in (CAM.to_ground(pose, x, y, ground) for x, y in pixels) if g is not None]
    local = [frame.xy(*g) for g in seen]
    within = [p for p in local if math.hypot(*p) < range_m - 0.5]
    assert len(within) > 100
    assert all(poly.buffer(0.05).contains(Point(p)) for p in within)
    assert not any(poly.contains(Point(p)) for p in local if math.hypot(*p) > range_m + 0.5)
    if expect == "quad":
        corners = [CAM.to_ground(pose, x, y, ground) for x, y in [(0, 0), (640, 0), (640, 480), (0, 480)]]
        quad = Polygon([frame.xy(*c) for c in corners if c is not None])
        assert poly.symmetric_difference(quad).area < 1e-4 * quad.area
    else:
        assert abs(max(math.hypot(*c) for c in poly.exterior.coords) - range_m) < 0.01 * range_m


def test_nadir_footprint_size():
    fp = FRAME.to_local(drone_footprint(CameraPose(17.2, 23.5, 100.0, el_deg=-90.0), CAM, 0.0, 1e4))
    w, h = 2 * 100 * math.tan(math.radians(35.0)), 2 * 100 * 480 / 640 * math.tan(math.radians(35.0))
    assert fp.area == pytest.approx(w * h, rel=1e-3)


# -- sampling footprints into rows --------------------------------------------------------------

SQ = ll(box(0, 0, 20, 20))
SHIFTED = ll(box(0, 12, 20, 32))
NUDGED = ll(box(0, 1, 20, 21))


def _rows(sampler: FootprintSampler, frames):
    rows: dict[datetime, Footprint] = {}
    for t, poly in frames:
        rows.update({r.start: r for r in sampler.update(at(t), poly)})
    rows.update({r.start: r for r in sampler.close()})
    return [((r.start - T0).total_seconds(), round((r.end - T0).total_seconds(), 6)) for r in rows.values()]


@pytest.mark.parametrize(("settings", "frames", "expected"), [
    ({}, [], []),
    ({}, [(i * 0.2, SQ) for i in range(10)], [(0.0, 2.0)]),
    ({}, [(0.0, SQ), (0.2, SQ), (5.0, SQ), (5.2, SQ)], [(0.0, 0.4), (5.0, 5.4)]),  # a pause: two rows
    ({}, [(0.0, SQ), (0.2, SQ), (0.4, None), (0.6, SQ)], [(0.0, 0.4), (0.6, 0.8)]),  # a frame seeing nothing
    ({}, [(0.0, SQ), (0.2, Polygon()), (0.3, SQ)], [(0.0, 0.2), (0.3, 0.5)]),  # an empty footprint (sky)
    ({}, [(0.0, None), (0.2, None)], []),
    ({"sample_s": 1.0}, [(i * 0.2, SQ) for i in range(11)], [(0.0, 1.0), (1.0, 2.0), (2.0, 2.2)]),
    ({"move_m": 5.0}, [(0.0, SQ), (0.2, NUDGED), (0.4, SHIFTED), (0.6, SHIFTED)], [(0.0, 0.4), (0.4, 0.8)]),
    ({}, [(1.0, SQ), (1.2, SQ), (0.0, SQ)], [(1.0, 1.4), (0.0, 0.2)]),  # time going back starts a new row
])
def test_sampler_rows(settings, frames, expected):
    s = FootprintSampler("cam", hold_s=0.2, max_gap_s=1.0, **settings)
    assert _rows(s, frames) == expected


def test_sampler_gap_is_at_least_two_frame_periods():
    # At 0.5 fps, frames 2 s apart are continuous even with max_gap_s 1.
    s = FootprintSampler("cam", hold_s=2.0, max_gap_s=1.0)
    assert _rows(s, [(0.0, SQ), (2.0, SQ), (4.0, SQ)]) == [(0.0, 6.0)]


def test_moved_m():
    assert moved_m(SQ, SHIFTED) == pytest.approx(12.0, rel=0.01)
    assert moved_m(SQ, Polygon()) == math.inf


# -- coverage of corridors ----------------------------------------------------------------------

AREA = Corridor("area", ll(box(0, 0, 10, 10)))
LINE = Corridor("line", ll(LineString([(0, 5), (10, 5)])), kind=CorridorKind.LINE)
ROAD = Corridor("road", ll(LineString([(0, 5), (10, 5)])), width_m=4.0)
WINDOW = (0.0, 100.0)
LEFT, RIGHT, ALL, AWAY = box(-5, -5, 5, 15), box(5, -5, 15, 15), box(-5, -5, 15, 15), box(100, 100, 120, 120)


def fp(camera: str, a: float, b: float, geom: Polygon) -> Footprint:
    return Footprint(camera, at(a), at(b), ll(geom))


@pytest.mark.parametrize(("corridor", "footprints", "intervals", "gaps"), [
    (AREA, [], [], [(0, 100)]),  # empty
    (AREA, [fp("a", 10, 20, AWAY)], [], [(0, 100)]),  # no overlap in space
    (AREA, [fp("a", 150, 200, ALL)], [], [(0, 100)]),  # no overlap in time
    (AREA, [fp("a", 10, 20, LEFT)], [(10, 20, 0.5, ("a",))], [(0, 10), (20, 100)]),  # partial
    (AREA, [fp("a", -50, 150, ALL)], [(0, 100, 1.0, ("a",))], []),  # full, clipped to the window
    (AREA, [fp("a", 10, 30, LEFT), fp("b", 20, 40, RIGHT)],  # two cameras: the union counts
     [(10, 20, 0.5, ("a",)), (20, 30, 1.0, ("a", "b")), (30, 40, 0.5, ("b",))], [(0, 10), (40, 100)]),
    (AREA, [fp("a", 10, 20, ALL), fp("a", 20, 30, ALL)], [(10, 30, 1.0, ("a",))], [(0, 10), (30, 100)]),  # merged
    (AREA, [fp("a", 10, 20, ALL), fp("a", 50, 60, LEFT)],  # gaps between
     [(10, 20, 1.0, ("a",)), (50, 60, 0.5, ("a",))], [(0, 10), (20, 50), (60, 100)]),
    (AREA, [fp("a", 10, 20, box(10, 0, 20, 10))], [], [(0, 100)]),  # touching an edge is no coverage
    (LINE, [fp("a", 0, 50, LEFT)], [(0, 50, 0.5, ("a",))], [(50, 100)]),  # a line: by length
    (ROAD, [fp("a", 0, 50, box(-5, -5, 5, 15))], [(0, 50, 0.5, ("a",))], [(50, 100)]),  # centre-line with a width
])
def test_corridor_coverage(corridor, footprints, intervals, gaps):
    [cov] = corridor_coverage([CorridorSpan(corridor, at(WINDOW[0]), at(WINDOW[1]))], footprints)
    got = [((i.start - T0).total_seconds(), (i.end - T0).total_seconds(), round(i.fraction, 6), i.cameras)
           for i in cov.intervals]
    assert got == [(float(a), float(b), f, c) for a, b, f, c in intervals]
    assert [((g.start - T0).total_seconds(), (g.end - T0).total_seconds()) for g in cov.gaps] == \
        [(float(a), float(b)) for a, b in gaps]
    assert cov.in_force_s == 100.0
    assert cov.covered_s == pytest.approx(sum(b - a for a, b, *_ in intervals))
    assert cov.mean_fraction == pytest.approx(sum((b - a) * f for a, b, f, _ in intervals) / 100.0, abs=1e-6)
    assert cov.measure == ("length" if corridor is LINE else "area")
    for i in cov.intervals:  # where: the covered part lies inside the corridor and the footprints
        local = FRAME.to_local(i.geometry)
        shape = FRAME.to_local(corridor.geometry)
        assert local.difference(shape.buffer(2.01 if corridor is ROAD else 0.01)).is_empty


def test_ever_fraction_is_the_union_over_time():
    [cov] = corridor_coverage([CorridorSpan(AREA, at(0), at(100))], [fp("a", 0, 10, LEFT), fp("a", 50, 60, RIGHT)])
    assert cov.max_fraction == pytest.approx(0.5)
    assert cov.ever_fraction == pytest.approx(1.0)
    assert FRAME.to_local(cov.covered).area == pytest.approx(100.0, rel=1e-6)


def test_no_corridors_no_coverage():
    assert corridor_coverage([], [fp("a", 0, 10, ALL)]) == []


def test_versions_in_force():
    moved = dataclasses.replace(AREA, geometry=ll(box(200, 200, 210, 210)), version=2)
    versions = [(AREA, at(-500), False), (moved, at(40), False)]
    spans = spans_in_force(versions, at(0), at(100))
    [cov] = corridor_coverage(spans, [fp("a", 0, 100, ALL)])
    assert [((i.start - T0).total_seconds(), (i.end - T0).total_seconds(), i.version) for i in cov.intervals] == \
        [(0.0, 40.0, 1)]
    assert [((g.start - T0).total_seconds(), (g.end - T0).total_seconds()) for g in cov.gaps] == [(40.0, 100.0)]
    assert cov.corridor.version == 2 and cov.in_force_s == 100.0


@pytest.mark.parametrize(("versions", "expected"), [
    ([], []),
    ([(AREA, at(200), False)], []),  # saved after the window
    ([(AREA, at(10), False)], [(1, 10.0, 100.0)]),
    ([(AREA, at(10), False), (dataclasses.replace(AREA, version=2), at(30), True)], [(1, 10.0, 30.0)]),  # deleted
])
def test_spans_in_force(versions, expected):
    got = [(s.corridor.version, (s.start - T0).total_seconds(), (s.end - T0).total_seconds())
           for s in spans_in_force(versions, at(0), at(100))]
    assert got == expected


@pytest.mark.parametrize(("start", "end", "message"), [
    (at(0), at(0), "empty"),
    (at(10), at(0), "reversed"),
    (at(0), at(0) + timedelta(days=40), "at most 31 days"),
    (datetime(2026, 1, 1), at(0), "time zone"),
])
def test_bad_windows(start, end, message):
    with pytest.raises(CoverageError, match=message):
        check_window(start, end)
