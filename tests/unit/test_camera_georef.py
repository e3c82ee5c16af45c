"""Drone camera georeferencing: analytic cases, round trips, and the real Cheyenne frame centres."""

from __future__ import annotations

import doctest
import math
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from routewatch.geo import camera
from routewatch.geo.camera import frame_centre, pixel_to_ground, pixel_to_normalised, ray_ned
from routewatch.ingest.klv import iter_packets
from routewatch.model import CameraPose
from tests.kits.require import needs_files

GEOD = Geod(ellps="WGS84")
ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
CHEYENNE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "klv" / "klvdata_Cheyenne_st0601.bin"
LAT, LON = 41.13, -104.79


def offset_m(pose: CameraPose, lonlat: tuple[float, float] | None) -> tuple[float, float]:
    """(north, east) metres of a ground point from below the sensor."""
    assert lonlat is not None
    az, _, dist = GEOD.inv(pose.lon, pose.lat, lonlat[0], lonlat[1])
    return dist * math.cos(math.radians(az)), dist * math.sin(math.radians(az))


@pytest.mark.parametrize(("pose", "north", "east"), [
    pytest.param(CameraPose(LAT, LON, 100.0, el_deg=-90.0), 0.0, 0.0, id="nadir"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=123.0, el_deg=-90.0), 0.0, 0.0, id="nadir-any-heading"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=0.0, el_deg=-45.0), 100.0, 0.0, id="45-north"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=90.0, el_deg=-45.0), 0.0, 100.0, id="45-east"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=180.0, el_deg=-45.0), -100.0, 0.0, id="45-south"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=270.0, el_deg=-45.0), 0.0, -100.0, id="45-west"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=0.0, az_deg=90.0, el_deg=-45.0), 0.0, 100.0,
                 id="sensor-az-right"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=90.0, az_deg=270.0, el_deg=-45.0), 100.0, 0.0,
                 id="sensor-az-left"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=0.0, roll_deg=45.0, az_deg=90.0), 0.0, 100.0,
                 id="roll-right-wing-down"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=0.0, roll_deg=-45.0, az_deg=270.0), 0.0, -100.0,
                 id="roll-left-wing-down"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=90.0, pitch_deg=-45.0), 0.0, 100.0, id="pitch-down"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=90.0, pitch_deg=10.0, el_deg=-55.0), 0.0, 100.0,
                 id="pitch-plus-elevation"),
    pytest.param(CameraPose(LAT, LON, 100.0, el_deg=-30.0, sensor_roll_deg=77.0), 100.0 * math.sqrt(3), 0.0,
                 id="sensor-roll-keeps-boresight"),
    pytest.param(CameraPose(LAT, LON, 2100.0, heading_deg=45.0, el_deg=-45.0), 1000 * math.sqrt(2),
                 1000 * math.sqrt(2), id="ground-elevation"),
])
def test_frame_centre_analytic(pose: CameraPose, north: float, east: float) -> None:
    ground = 100.0 if pose.alt_m > 1000 else 0.0
    n, e = offset_m(pose, frame_centre(pose, ground))
    assert (n, e) == pytest.approx((north, east), abs=1e-3)


@pytest.mark.parametrize("pose", [
    pytest.param(CameraPose(LAT, LON, 100.0, el_deg=5.0), id="above-horizon"),
    pytest.param(CameraPose(LAT, LON, 100.0), id="level"),
    pytest.param(CameraPose(LAT, LON, 100.0, heading_deg=0.0, pitch_deg=20.0, el_deg=-10.0), id="pitched-up"),
    pytest.param(CameraPose(LAT, LON, 100.0, roll_deg=45.0, az_deg=270.0), id="rolled-away"),
    pytest.param(CameraPose(LAT, LON, -5.0, el_deg=-90.0), id="below-ground"),
])
def test_no_ground_hit(pose: CameraPose) -> None:
    assert frame_centre(pose, 0.0) is None


@pytest.mark.parametrize(("sensor_roll", "u", "v", "north", "east"), [
    pytest.param(0.0, 0.0, 0.0, 0.0, 0.0, id="centre"),
    pytest.param(0.0, 1.0, 0.0, 0.0, 100.0, id="right-edge-east"),
    pytest.param(0.0, -1.0, 0.0, 0.0, -100.0, id="left-edge-west"),
    pytest.param(0.0, 0.0, -1.0, 100.0 * math.tan(math.radians(30)), 0.0, id="top-edge-north"),
    pytest.param(0.0, 1.0, 1.0, -100.0 * math.tan(math.radians(30)), 100.0, id="bottom-right"),
    pytest.param(90.0, 1.0, 0.0, -100.0, 0.0, id="sensor-roll-90-right-is-south"),
])
def test_pixel_to_ground_nadir(sensor_roll: float, u: float, v: float, north: float, east: float) -> None:
    pose = CameraPose(LAT, LON, 100.0, el_deg=-90.0, sensor_roll_deg=sensor_roll)
    n, e = offset_m(pose, pixel_to_ground(pose, u, v, 90.0, 60.0, 0.0))
    assert (n, e) == pytest.approx((north, east), abs=1e-3)


def test_pixel_to_ground_above_horizon_is_none() -> None:
    pose = CameraPose(LAT, LON, 100.0, el_deg=-10.0)
    assert pixel_to_ground(pose, 0.0, -1.0, 60.0, 40.0, 0.0) is None
    assert pixel_to_ground(pose, 0.0, 1.0, 60.0, 40.0, 0.0) is not None


@pytest.mark.parametrize(("x", "y", "expected"), [
    pytest.param(0.0, 0.0, (-1.0, -1.0), id="top-left"),
    pytest.param(1920.0, 1080.0, (1.0, 1.0), id="bottom-right"),
    pytest.param(960.0, 540.0, (0.0, 0.0), id="centre"),
])
def test_pixel_to_normalised(x: float, y: float, expected: tuple[float, float]) -> None:
    assert pixel_to_normalised(x, y, 1920, 1080) == expected


def test_doctests() -> None:
    assert doctest.testmod(camera).failed == 0


angles = st.floats(0.0, 360.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.floats(-70.0, 70.0), st.floats(-179.0, 179.0), st.floats(20.0, 5000.0), angles, angles,
       st.floats(0.5, 5000.0))
def test_round_trip_to_any_ground_point(lat: float, lon: float, height: float, heading: float, bearing: float,
                                        dist: float) -> None:
    """Aim the sensor at a ground point by azimuth and depression; the frame centre is that point."""
    tlon, tlat, _ = GEOD.fwd(lon, lat, bearing, dist)
    pose = CameraPose(lat, lon, height + 50.0, heading_deg=heading, az_deg=(bearing - heading) % 360.0,
                      el_deg=-math.degrees(math.atan2(height, dist)), sensor_roll_deg=heading / 3)
    hit = frame_centre(pose, 50.0)
    assert hit is not None
    assert GEOD.inv(hit[0], hit[1], tlon, tlat)[2] < 1e-3 + dist * 1e-9


@settings(max_examples=200, deadline=None)
@given(angles, st.floats(-20.0, 20.0), st.floats(-50.0, 50.0), angles, st.floats(-89.0, -5.0), angles,
       st.floats(-1.0, 1.0), st.floats(-1.0, 1.0))
def test_rays_are_unit_and_centre_pixel_is_boresight(heading: float, pitch: float, roll: float, az: float,
                                                      el: float, sroll: float, u: float, v: float) -> None:
    pose = CameraPose(LAT, LON, 1000.0, heading, pitch, roll, az, el, sroll)
    assert math.hypot(*ray_ned(pose, u, v, 40.0, 30.0)) == pytest.approx(1.0)
    assert ray_ned(pose, 0.0, 0.0, 40.0, 30.0) == pytest.approx(ray_ned(pose))


def _ecef_enu(lat: float, lon: float, h: float, origin: CameraPose) -> tuple[float, float, float]:
    """East-north-up metres of a geodetic point seen from the pose's position (exact, via ECEF)."""
    x, y, z = ECEF.transform(lon, lat, h)
    x0, y0, z0 = ECEF.transform(origin.lon, origin.lat, origin.alt_m)
    dx, dy, dz = x - x0, y - y0, z - z0
    la, lo = math.radians(origin.lat), math.radians(origin.lon)
    east = -math.sin(lo) * dx + math.cos(lo) * dy
    north = -math.sin(la) * math.cos(lo) * dx - math.sin(la) * math.sin(lo) * dy + math.cos(la) * dz
    up = math.cos(la) * math.cos(lo) * dx + math.cos(la) * math.sin(lo) * dy + math.sin(la) * dz
    return east, north, up


@settings(max_examples=100, deadline=None)
@given(st.floats(-70.0, 70.0), angles, st.floats(1000.0, 15000.0), st.floats(5.0, 90.0))
def test_curved_earth_hit_lies_on_the_ray(lat: float, heading: float, height: float, depression: float) -> None:
    pose = CameraPose(lat, 10.0, height, heading_deg=heading, el_deg=-depression)
    hit = frame_centre(pose, 0.0, curved=True)
    if hit is None:  # below the horizon dip only
        assert depression < math.degrees(math.acos(6_356_000 / (6_356_000 + height))) + 0.1
        return
    east, north, up = _ecef_enu(hit[1], hit[0], 0.0, pose)
    n, e, d = ray_ned(pose)
    rng = math.sqrt(east**2 + north**2 + up**2)
    miss = math.sqrt((east - e * rng) ** 2 + (north - n * rng) ** 2 + (up + d * rng) ** 2)
    assert miss < 1.0 + rng * 2e-4


@pytest.mark.parametrize(("alt_m", "depression", "flat_m", "gap_m"), [
    pytest.param(10_000.0, 90.0, 0.0, (0.0, 0.001), id="nadir-same"),
    pytest.param(1_000.0, 45.0, 1_000.0, (0.0, 0.2), id="short-range-nearly-same"),
    pytest.param(10_000.0, 45.0, 10_000.0, (7.0, 9.0), id="10km-drops-8m"),
    pytest.param(10_000.0, 10.0, 56_713.0, (1_300.0, 1_700.0), id="long-range-curved-farther"),
    pytest.param(10_000.0, 1.0, 572_900.0, None, id="below-flat-but-above-curved-horizon"),
])
def test_curved_vs_flat(alt_m: float, depression: float, flat_m: float, gap_m: tuple[float, float] | None) -> None:
    pose = CameraPose(LAT, LON, alt_m, el_deg=-depression)
    flat, round_ = frame_centre(pose, 0.0), frame_centre(pose, 0.0, curved=True)
    assert flat is not None
    assert offset_m(pose, flat)[0] == pytest.approx(flat_m, abs=1.0)
    if gap_m is None:
        assert round_ is None
        return
    assert round_ is not None
    assert gap_m[0] <= offset_m(pose, round_)[0] - offset_m(pose, flat)[0] <= gap_m[1]


@needs_files(CHEYENNE)
@pytest.mark.parametrize("curved", [False, True], ids=["flat", "curved"])
def test_cheyenne_frame_centre_reproduced(curved: bool) -> None:
    errors = []
    for p in iter_packets(CHEYENNE.read_bytes()):
        q = p.pose()
        cam = q.camera_pose()
        assert cam is not None and q.frame_centre_elev_m is not None
        hit = frame_centre(cam, q.frame_centre_elev_m, curved=curved)
        assert hit is not None and q.frame_centre_lon is not None and q.frame_centre_lat is not None
        errors.append(GEOD.inv(hit[0], hit[1], q.frame_centre_lon, q.frame_centre_lat)[2])
    median = statistics.median(errors)
    p90 = statistics.quantiles(errors, n=10)[-1]
    ground = "curved" if curved else "flat"
    print(f"Cheyenne frame centre ({ground}): {len(errors)} packets, median {median:.1f} m, p90 {p90:.1f} m")
    assert len(errors) == 407
    assert median < 15.0
    assert p90 < 40.0


@needs_files(CHEYENNE)
def test_cheyenne_corners_reproduced() -> None:
    """Tags 26-33 (corner 1 top-left, then clockwise) from the image corners: checks the image axes."""
    corners = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
    errors = []
    for p in iter_packets(CHEYENNE.read_bytes()):
        q = p.pose()
        cam = q.camera_pose()
        assert cam is not None and q.hfov_deg is not None and q.vfov_deg is not None
        assert q.frame_centre_lat is not None and q.frame_centre_lon is not None and q.frame_centre_elev_m is not None
        for (u, v), (dlat, dlon) in zip(corners, q.corner_offsets, strict=True):
            assert dlat is not None and dlon is not None
            hit = pixel_to_ground(cam, u, v, q.hfov_deg, q.vfov_deg, q.frame_centre_elev_m)
            assert hit is not None
            errors.append(GEOD.inv(hit[0], hit[1], q.frame_centre_lon + dlon, q.frame_centre_lat + dlat)[2])
    median = statistics.median(errors)
    print(f"Cheyenne corners: {len(errors)} points, median {median:.1f} m")
    assert median < 50.0  # about 30 m measured; a mirrored image axis gives about 160 m


@pytest.mark.parametrize(("row", "max_range_m", "placed"), [
    (400.0, 3000.0, True),  # well below the horizon: about 150 m out
    (241.0, 3000.0, False),  # 1 px below the horizon: tens of km out, beyond the range
    (241.0, math.inf, True),  # without a range the ray is followed however far
    (200.0, math.inf, False),  # above the horizon: never on the ground
])
def test_points_near_the_horizon_beyond_the_range_are_not_placed(row, max_range_m, placed):
    from routewatch.geo.camera import Pinhole

    cam = Pinhole.from_fov(640, 480, 60.0)
    pose = CameraPose(0.0, 0.0, 100.0, el_deg=-20.0)
    horizon = cam.cy - cam.fy * math.tan(math.radians(20.0))  # the image row of the horizon
    got = cam.to_ground(pose, 320.0, horizon + (row - 240.0), 0.0, max_range_m)
    assert (got is not None) == placed
