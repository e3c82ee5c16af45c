"""The demo's patrol drone and its camera: the tlog says what the renderer drew from, and the walker is in view
while crossing."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from routewatch.app.demo import dronecam, scenario
from routewatch.app.demo.camera import SPEED_M_S, WALK_FROM_S, WALK_Y0
from routewatch.ingest.posefile import read_pose_file

CROSS_S = WALK_FROM_S + (dronecam.BORDER_Y - WALK_Y0) / SPEED_M_S  # the walker's feet on the border line


@pytest.fixture(scope="module")
def poses(tmp_path_factory):
    tlog = scenario.write_tlog(tmp_path_factory.mktemp("demo") / "patrol.tlog")
    return read_pose_file(tlog, sysid=1)


# Frame times across the flight: the survey lane, the detour, the watch (the crossing itself), leaving.
@pytest.mark.parametrize("t_s", [0.0, 12.4, 40.0, 94.4, 100.0, CROSS_S, 125.0, 131.0])
def test_the_tlog_poses_the_camera_where_the_renderer_put_it(poses, t_s):
    pose = poses.track().at(scenario.START + timedelta(seconds=t_s), 1.0)
    assert pose is not None
    x, y = scenario.FRAME.xy(pose.lon, pose.lat)
    px, py, heading = scenario.patrol_pose(t_s)
    assert math.dist((x, y), (px, py)) < 0.05
    assert pose.alt_m - poses.home_alt_m == pytest.approx(scenario.PATROL_AGL_M, abs=0.01)
    assert abs((pose.heading_deg - heading + 180) % 360 - 180) < 0.05
    assert pose.gimbal_pitch_deg == pytest.approx(scenario.GIMBAL_PITCH_DEG, abs=0.01)
    assert pose.gimbal_yaw_deg == pytest.approx(0.0, abs=0.01)


def test_the_tlog_carries_the_gimbal_of_the_patrol_drone_only(poses):
    assert poses.gimbal  # read from GIMBAL_DEVICE_ATTITUDE_STATUS
    assert poses.home_alt_m == pytest.approx(scenario.GROUND_MSL_M, abs=0.01)
    times = [(p.time - scenario.START).total_seconds() for p in poses.poses]
    assert times[0] == 0.0 and times[-1] == scenario.DURATION_S


def _in_view(t_s: float) -> bool | None:
    feet = dronecam.walker(t_s)
    if feet is None:
        return None
    px = dronecam.project(t_s, *feet)
    return px is not None and bool(0 <= px[0] < dronecam.IMG_W and 0 <= px[1] < dronecam.IMG_H)


# (time, the walker's feet in the drone camera's image): not yet walking, on the survey lane and the detour,
# in view while crossing, out of it after (the drone turns back to its survey).
VIEW = [(-1.0, None), (50.0, False), (94.0, False), (100.0, True), (CROSS_S, True), (127.0, True),
        (131.0, False)]


@pytest.mark.parametrize(("t_s", "seen"), VIEW)
def test_the_drone_watches_the_crossing(t_s, seen):
    assert _in_view(t_s) is seen


def test_the_drone_stands_off_south_of_the_crossing_while_the_walker_crosses():
    x, y, _ = scenario.patrol_pose(CROSS_S)
    wx, wy = dronecam.walker(CROSS_S)
    # South of the walker by about the camera's look-ahead (60 m / tan 40 degrees = 72 m), in line with the path.
    assert abs(x - wx) < 2.0 and 60.0 < wy - y < 90.0


@pytest.mark.parametrize(("x", "y", "z"), [(-320.0, -1.0, 0.0), (-310.0, 5.0, 0.0), (-320.0, -1.0, 1.7)])
def test_projection_is_a_pinhole_at_the_drone(x, y, z):
    # The pixel's ray, scaled to the point's depth below the camera, ends at the point (inverse by hand).
    t = CROSS_S
    u, v = dronecam.project(t, x, y, z)
    ax = dronecam.axes(t)
    ray = ax.T @ [1.0, (u - dronecam.IMG_W / 2) / dronecam.FOCAL, (v - dronecam.IMG_H / 2) / dronecam.FOCAL]
    s = (scenario.PATROL_AGL_M - z) / ray[2]
    dx, dy, _ = scenario.patrol_pose(t)
    assert dx + s * ray[1] == pytest.approx(x, abs=1e-6) and dy + s * ray[0] == pytest.approx(y, abs=1e-6)


def test_a_point_behind_the_camera_has_no_pixel():
    x, y, _ = scenario.patrol_pose(CROSS_S)
    assert dronecam.project(CROSS_S, x, y - 1000.0) is None
