"""Drone camera pose: Euler/quaternion conversions, gimbal frames, merging telemetry streams, pinholes."""

from __future__ import annotations

import doctest
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from routewatch.geo import camera, dronepose
from routewatch.geo.camera import (
    Pinhole,
    camera_to_ned,
    euler_zyx,
    frame_centre,
    pixel_to_ground,
    quaternion_matrix,
    rotation_zyx,
)
from routewatch.geo.crs import LocalFrame, angle_diff_deg
from routewatch.geo.dronepose import AttitudeSample, Fix, GimbalSample, camera_pose, klv_pose, merge, to_vehicle_frame
from routewatch.geo.poseinterp import PoseTrack
from routewatch.model import CameraPose, Pose

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FRAME = LocalFrame(7.0, 45.0)
angle = st.floats(-180.0, 180.0)
tilt = st.floats(-89.0, 89.0)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


@pytest.mark.parametrize("module", [camera, dronepose])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


@given(angle, tilt, angle)
def test_euler_round_trip(yaw, pitch, roll):
    y, p, r = euler_zyx(rotation_zyx(yaw, pitch, roll))
    assert angle_diff_deg(y, yaw) < 1e-6 and abs(p - pitch) < 1e-6 and angle_diff_deg(r, roll) < 1e-6


@given(angle, st.sampled_from([-90.0, 90.0]), angle)
def test_euler_at_gimbal_lock_keeps_the_rotation_with_zero_roll(yaw, pitch, roll):
    rot = rotation_zyx(yaw, pitch, roll)
    y, p, r = euler_zyx(rot)
    assert r == 0.0 and p == pitch
    assert np.allclose(rotation_zyx(y, p, r), rot, atol=1e-9)


@given(angle, st.floats(-90.0, 90.0), angle)
def test_quaternion_matches_euler(yaw, pitch, roll):
    cy, sy = math.cos(math.radians(yaw) / 2), math.sin(math.radians(yaw) / 2)
    cp, sp = math.cos(math.radians(pitch) / 2), math.sin(math.radians(pitch) / 2)
    cr, sr = math.cos(math.radians(roll) / 2), math.sin(math.radians(roll) / 2)
    q = (cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
         cr * cp * sy - sr * sp * cy)
    assert np.allclose(quaternion_matrix(*q), rotation_zyx(yaw, pitch, roll), atol=1e-9)
    assert np.allclose(quaternion_matrix(*(-v for v in q)), rotation_zyx(yaw, pitch, roll), atol=1e-9)


@pytest.mark.parametrize("q", [(0.0, 0.0, 0.0, 0.0), (math.nan, 0.0, 0.0, 1.0), (2.0, 0.0, 0.0, 0.0),
                               (math.inf, 0.0, 0.0, 0.0)])
def test_not_a_rotation_quaternion(q):
    with pytest.raises(ValueError, match="not a rotation quaternion"):
        quaternion_matrix(*q)


@pytest.mark.parametrize(("frame", "att", "gimbal", "expect"), [
    ("vehicle", (30.0, 10.0, 5.0), (20.0, -60.0, 1.0), (20.0, -60.0, 1.0)),
    ("earth", (30.0, 10.0, 5.0), (20.0, -60.0, 1.0), (-10.0, -60.0, 1.0)),
    ("earth", (170.0, 0.0, 0.0), (-170.0, -45.0, 0.0), (20.0, -45.0, 0.0)),
    ("body", (30.0, 10.0, 0.0), (0.0, -60.0, 0.0), (0.0, -50.0, 0.0)),
    ("body", (30.0, 0.0, 0.0), (15.0, -70.0, 0.0), (15.0, -70.0, 0.0)),
    ("body", (30.0, 0.0, 20.0), (90.0, 0.0, 0.0), (90.0, -20.0, 0.0)),  # looking right, right wing down
])
def test_gimbal_frames_to_vehicle_frame(frame, att, gimbal, expect):
    got = to_vehicle_frame(*gimbal, frame, AttitudeSample(T0, *att))
    assert angle_diff_deg(got[0], expect[0]) < 1e-6
    assert got[1:] == pytest.approx(expect[1:], abs=1e-6)


@given(st.floats(0.0, 360.0), st.floats(-20.0, 20.0), st.floats(-40.0, 40.0), st.floats(0.0, 360.0),
       st.floats(-95.0, 5.0), st.floats(-30.0, 30.0))
def test_st0601_angles_as_vehicle_frame_give_the_same_camera(heading, pitch, roll, az, el, sroll):
    direct = CameraPose(45.0, 7.0, 500.0, heading, pitch, roll, az, el, sroll)
    via = camera_pose(klv_pose(T0, 7.0, 45.0, 500.0, (heading, pitch, roll), (az, el, sroll)))
    assert via is not None
    assert np.allclose(camera_to_ned(via), camera_to_ned(direct), atol=1e-9)


def test_camera_pose_gimbal_fixed_mount_or_none():
    base = Pose(T0, 7.0, 45.0, 100.0, 90.0, 5.0, 2.0)
    assert camera_pose(base) is None
    fixed = camera_pose(base, (0.0, -90.0, 0.0))
    assert fixed is not None and (fixed.heading_deg, fixed.pitch_deg, fixed.roll_deg, fixed.el_deg) == (90, 5, 2, -90)
    lon, lat = frame_centre(fixed, 0.0) or (0.0, 0.0)
    x, _ = FRAME.xy(lon, lat)
    # the camera points straight down from a nose-up, right-wing-down airframe: 100 m * tan(5 deg) ahead (east)
    assert x == pytest.approx(100 * math.tan(math.radians(5)), abs=0.05)


def fixes(times, speed=10.0):
    return [Fix(at(s), *FRAME.lonlat(0.0, speed * s), 100.0 + s) for s in times]


def test_merge_reproduces_each_stream_exactly():
    pos = fixes([0, 1, 2, 3, 4])
    att = [AttitudeSample(at(s), (350.0 + 8.0 * s) % 360, -s, s / 2) for s in np.arange(0.1, 4.0, 0.25)]
    gim = [GimbalSample(at(s), 10.0, -60.0 - 3.0 * s, 0.0) for s in np.arange(0.2, 4.0, 0.5)]
    poses, dropped = merge(pos, att, gim, max_gap_s=1.0)
    assert dropped == 0
    knots = {f.time for f in pos} | {a.time for a in att} | {g.time for g in gim}
    assert sorted(p.time for p in poses) == sorted(knots)
    track = PoseTrack(poses)
    for s in (0.7, 1.33, 2.5, 3.7):
        p = track.at(at(s), max_gap_s=1.0)
        assert p is not None
        assert FRAME.xy(p.lon, p.lat) == pytest.approx((0.0, 10.0 * s), abs=1e-6)
        assert p.alt_m == pytest.approx(100.0 + s)
        assert angle_diff_deg(p.heading_deg, 350.0 + 8.0 * s) < 1e-9
        assert (p.pitch_deg, p.roll_deg) == pytest.approx((-s, s / 2))
        assert p.gimbal_pitch_deg == pytest.approx(-60.0 - 3.0 * s)


@pytest.mark.parametrize(("pos_times", "att_times", "gap", "expect"), [
    pytest.param([0, 1, 2], [0, 1, 2], 1.0, [0, 1, 2], id="aligned"),
    pytest.param([0, 5], [0, 1, 2, 3, 4, 5], 1.0, [0, 5], id="position-gap-not-bridged"),
    pytest.param([0, 1.5], [0, 0.5, 1, 1.5], 1.0, [0, 0.5, 1, 1.5], id="gap-within-2x-bridged"),
    pytest.param([0, 1], [10, 11], 1.0, [], id="streams-never-meet"),
    pytest.param([], [0, 1], 1.0, [], id="no-position"),
    pytest.param([0, 1], [], 1.0, [], id="no-attitude"),
])
def test_merge_gap_rule(pos_times, att_times, gap, expect):
    poses, _ = merge(fixes(pos_times), [AttitudeSample(at(s), 0.0, 0.0, 0.0) for s in att_times], max_gap_s=gap)
    assert [(p.time - T0).total_seconds() for p in poses] == expect


def test_merge_drops_gimbal_samples_far_from_any_attitude_and_needs_gimbal_where_it_is_reported():
    poses, dropped = merge(fixes([0, 1, 2]), [AttitudeSample(at(s), 0.0, 0.0, 0.0) for s in (0, 1, 2)],
                           [GimbalSample(at(0.5), 0.0, -45.0, 0.0, "earth"), GimbalSample(at(9.0), 0.0, -45.0, 0.0)],
                           max_gap_s=1.0)
    assert dropped == 1
    assert poses and all(p.gimbal_pitch_deg == pytest.approx(-45.0) for p in poses)
    with pytest.raises(ValueError, match="max_gap_s"):
        merge([], [], max_gap_s=-1.0)


def test_merge_across_the_antimeridian():
    pos = [Fix(at(0), 179.9999, 0.0, 100.0), Fix(at(1), -179.9999, 0.0, 100.0)]
    poses, _ = merge(pos, [AttitudeSample(at(s), 0.0, 0.0, 0.0) for s in (0, 0.5, 1)], max_gap_s=1.0)
    mid = poses[1]
    assert abs(abs(mid.lon) - 180.0) < 1e-9


def test_pinhole_agrees_with_normalised_fov_model():
    pin = Pinhole.from_fov(640, 480, 70.0, 55.0)
    pose = CameraPose(45.0, 7.0, 120.0, heading_deg=30.0, az_deg=10.0, el_deg=-65.0, sensor_roll_deg=3.0)
    for x, y in ((0.0, 0.0), (320.0, 240.0), (600.0, 50.0), (17.0, 470.0)):
        u, v = camera.pixel_to_normalised(x, y, 640, 480)
        assert pin.to_ground(pose, x, y, 20.0) == pytest.approx(pixel_to_ground(pose, u, v, 70.0, 55.0, 20.0),
                                                                abs=1e-10)
    assert pin.hfov_deg == pytest.approx(70.0) and pin.vfov_deg == pytest.approx(55.0)
    assert pin.to_ground(CameraPose(45.0, 7.0, 120.0, el_deg=10.0), 320.0, 240.0, 0.0) is None  # above the horizon


@pytest.mark.parametrize(("args", "message"), [
    ((0, 480, 320.0, 320.0, 320.0, 240.0), "image size"),
    ((640, 480, 0.0, 320.0, 320.0, 240.0), "focal"),
    ((640, 480, math.nan, 320.0, 320.0, 240.0), "focal"),
])
def test_bad_pinholes(args, message):
    with pytest.raises(ValueError, match=message):
        Pinhole(*args)
    with pytest.raises(ValueError, match="hfov_deg"):
        Pinhole.from_fov(640, 480, 180.0)
