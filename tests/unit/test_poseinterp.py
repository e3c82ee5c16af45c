"""Drone pose interpolation at frame times: linear motion, angle wrap, clock offset, gaps."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routewatch.geo.crs import LocalFrame, angle_diff_deg
from routewatch.geo.poseinterp import PoseTrack, lerp_angle_deg
from routewatch.model import Pose

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FRAME = LocalFrame(149.16, -35.36)


def at_s(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def pose(s: float, x: float = 0.0, y: float = 0.0, alt: float = 100.0, heading: float = 0.0,
         pitch: float = 0.0, roll: float = 0.0, **gimbal: float) -> Pose:
    lon, lat = FRAME.lonlat(x, y)
    return Pose(at_s(s), lon, lat, alt, heading, pitch, roll, **gimbal)


def linear(s: float) -> Pose:
    """A vehicle flying 12 m/s east-north-east, climbing 2 m/s."""
    return pose(s, x=12.0 * s, y=5.0 * s, alt=100.0 + 2.0 * s, heading=67.0)


def test_midpoints_exact_for_linear_motion():
    track = PoseTrack(linear(s) for s in range(0, 10))
    for s in (0.5, 3.25, 8.9, 0.0, 9.0):
        p = track.at(at_s(s))
        assert p is not None and p.time == at_s(s)
        x, y = FRAME.xy(p.lon, p.lat)
        assert math.hypot(x - 12.0 * s, y - 5.0 * s) < 1e-6
        assert p.alt_m == pytest.approx(100.0 + 2.0 * s) and p.heading_deg == pytest.approx(67.0)


@pytest.mark.parametrize(("a", "b", "f", "expect"), [
    (350.0, 10.0, 0.5, 0.0),
    (10.0, 350.0, 0.5, 0.0),
    (350.0, 10.0, 0.25, 355.0),
    (170.0, -170.0, 0.5, 180.0),
    (0.0, 90.0, 0.5, 45.0),
    (-10.0, -10.0, 0.7, 350.0),
    (720.0, 30.0, 1.0, 30.0),
])
def test_lerp_angle_shortest_arc(a, b, f, expect):
    assert angle_diff_deg(lerp_angle_deg(a, b, f), expect) < 1e-9


def test_heading_through_north_not_south():
    track = PoseTrack([pose(0, heading=350.0, roll=-175.0, gimbal_yaw_deg=350.0),
                       pose(1, heading=10.0, roll=175.0, gimbal_yaw_deg=10.0)])
    p = track.at(at_s(0.5))
    assert p is not None
    assert angle_diff_deg(p.heading_deg, 0.0) < 1e-9
    assert angle_diff_deg(p.roll_deg, 180.0) < 1e-9 and -180.0 <= p.roll_deg < 180.0
    assert p.gimbal_yaw_deg is not None and angle_diff_deg(p.gimbal_yaw_deg, 0.0) < 1e-9


def test_gimbal_known_at_one_end_only_is_not_guessed():
    track = PoseTrack([pose(0, gimbal_pitch_deg=-45.0), pose(1)])
    p = track.at(at_s(0.5))
    assert p is not None and p.gimbal_pitch_deg is None
    assert track.at(at_s(0.0)).gimbal_pitch_deg == -45.0  # type: ignore[union-attr]


def test_clock_offset_sign():
    # Receiver clock runs 2.5 s ahead of the vehicle: the frame at receiver t sees vehicle t - 2.5.
    track = PoseTrack((linear(s) for s in range(0, 10)), clock_offset_s=2.5)
    p = track.at(at_s(5.0))
    assert p is not None and p.time == at_s(5.0)
    x, _ = FRAME.xy(p.lon, p.lat)
    assert x == pytest.approx(12.0 * 2.5, abs=1e-6)
    assert track.at(at_s(0.5)) is None  # vehicle time -2.0: before the first pose, beyond the gap
    assert track.at(at_s(12.0)) is not None and track.at(at_s(12.6)) is None


@pytest.mark.parametrize(("times", "query", "max_gap_s", "expect_alt"), [
    ([], 0.0, 1.0, None),                       # empty track
    ([0.0], 0.0, 1.0, 100.0),                   # exactly on the only pose
    ([0.0], 0.8, 1.0, 100.0),                   # held, within the gap
    ([0.0], 1.5, 1.0, None),                    # beyond the gap after the only pose
    ([0.0, 1.0], -0.5, 1.0, 100.0),             # before the first: held, not extrapolated
    ([0.0, 1.0], -1.5, 1.0, None),
    ([0.0, 1.0], 2.5, 1.0, None),
    ([0.0, 3.0], 1.5, 1.0, None),               # a hole in the telemetry: both sides 1.5 s away
    ([0.0, 3.0], 0.5, 1.0, None),               # near one side is not enough: the other is 2.5 s away
    ([0.0, 3.0], 1.5, 2.0, 103.0),              # a wider gap allowed
    ([0.0, 1.0], 0.5, 0.0, None),               # zero gap: only exact times
    ([0.0, 1.0], 1.0, 0.0, 102.0),
])
def test_gaps(times, query, max_gap_s, expect_alt):
    track = PoseTrack(pose(s, alt=100.0 + 2.0 * s) for s in times)
    p = track.at(at_s(query), max_gap_s=max_gap_s)
    if expect_alt is None:
        assert p is None
    else:
        assert p is not None and p.alt_m == pytest.approx(expect_alt)


def test_unsorted_input_and_duplicates_collapse():
    poses = [linear(s) for s in range(0, 20)]
    shuffled = poses[:]
    random.Random(3).shuffle(shuffled)
    replaced = pose(7, x=12.0 * 7, y=5.0 * 7, alt=999.0, heading=67.0)
    track = PoseTrack([*shuffled, replaced])
    assert len(track) == 20
    assert [p.time for p in track.poses] == [p.time for p in poses]
    assert track.at(at_s(7.0)).alt_m == 999.0  # type: ignore[union-attr]
    incremental = PoseTrack()
    for p in reversed(poses):
        incremental.add(p)
    assert incremental.poses == tuple(poses)


def test_drop_before():
    track = PoseTrack(linear(s) for s in range(0, 10))
    assert track.drop_before(at_s(4.0)) == 4
    assert track.at(at_s(2.5)) is None and track.at(at_s(4.5)) is not None
    assert PoseTrack().drop_before(T0) == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"time": datetime(2026, 1, 1)}, "tz-aware"),
    ({"lon": math.nan}, "non-finite"),
    ({"heading_deg": math.inf}, "non-finite"),
    ({"gimbal_pitch_deg": math.nan}, "non-finite"),
    ({"lat": 149.0}, "out of range"),
    ({"hfov_deg": 0.0}, "field of view"),
    ({"vfov_deg": 180.0}, "field of view"),
    ({"hfov_deg": math.nan}, "non-finite"),
])
def test_bad_pose_refused(kwargs, message):
    base = {"time": T0, "lon": 149.16, "lat": -35.36, "alt_m": 0.0, "heading_deg": 0.0, "pitch_deg": 0.0,
            "roll_deg": 0.0}
    with pytest.raises(ValueError, match=message):
        Pose(**{**base, **kwargs})


@pytest.mark.parametrize(("offset", "gap"), [(math.nan, 1.0), (0.0, -1.0), (0.0, math.nan)])
def test_bad_parameters_refused(offset, gap):
    with pytest.raises(ValueError):
        PoseTrack([pose(0)], clock_offset_s=offset).at(T0, max_gap_s=gap)


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=30, unique=True),
       st.floats(0, 100), st.floats(-50, 50))
def test_interpolated_pose_lies_between_neighbours(times, q, offset):
    track = PoseTrack((linear(s) for s in times), clock_offset_s=offset)
    p = track.at(at_s(q + offset), max_gap_s=200.0)
    assert p is not None
    tv = min(max(q, min(times)), max(times))  # held at the ends
    x, y = FRAME.xy(p.lon, p.lat)
    # Datetimes hold microseconds: 1 us at 13 m/s is 13 um.
    assert math.hypot(x - 12.0 * tv, y - 5.0 * tv) < 1e-4
    assert p.alt_m == pytest.approx(100.0 + 2.0 * tv, abs=1e-4)


@given(st.floats(-720, 720), st.floats(-720, 720), st.floats(0, 1))
def test_lerp_angle_stays_on_the_short_arc(a, b, f):
    v = lerp_angle_deg(a, b, f)
    assert 0.0 <= v < 360.0
    arc = angle_diff_deg(a, b)
    assert angle_diff_deg(a, v) <= arc + 1e-6 and angle_diff_deg(v, b) <= arc + 1e-6
    assert angle_diff_deg(a, v) == pytest.approx(f * arc, abs=1e-6)


def test_field_of_view_interpolates_linearly_and_only_when_known_at_both_ends():
    track = PoseTrack([pose(0, hfov_deg=40.0, vfov_deg=30.0), pose(1, hfov_deg=20.0, vfov_deg=15.0), pose(2)])
    p = track.at(at_s(0.25))
    assert p is not None and (p.hfov_deg, p.vfov_deg) == pytest.approx((35.0, 26.25))
    q = track.at(at_s(1.5))
    assert q is not None and q.hfov_deg is None and q.vfov_deg is None
