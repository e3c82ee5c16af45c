"""The demo's drone camera: its rendered video, posed by the scenario tlog, puts the walker where the walker is.

The bound on the ground error, 1.0 m: the walker is 93 m from the camera (20 px per metre across the view,
about 8 cm of ground per image row at 40 degrees down), motion is found on a half-size frame (16 cm a row),
the box's bottom is the rear foot of a stride (up to 0.3 m behind the walker's position) plus the foot's
drawn thickness, and the tlog's position is quantised to 1e-7 degrees (1 cm). That adds up to about half a
metre (0.43 m median, 0.68 m at most seen); a wrong pose moves it by metres (a degree of gimbal pitch at
this range: 2.5 m; a second off in time: 0.7 m of the drone's drift plus 1.4 m of the walker's walk).
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from routewatch.app.demo import dronecam, scenario
from routewatch.app.demo.camera import SPEED_M_S, WALK_FROM_S, WALK_Y0
from routewatch.cameras.drone import DroneVision

CROSS_S = WALK_FROM_S + (dronecam.BORDER_Y - WALK_Y0) / SPEED_M_S
START_S = 90.0  # the watch over the crossing only (the demo films from take-off: slow for a test)
MAX_ERROR_M = 1.0


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dronecam")
    tlog = scenario.write_tlog(tmp / "patrol.tlog")
    video = dronecam.render(tmp / "patrol-cam.avi", start_s=START_S)
    cam = dronecam.camera(video, tlog, realtime=False, start_s=START_S)
    counts: Counter[str] = Counter()
    obs = list(DroneVision.for_videos([video], cam).observations(video, counts))
    return obs, counts


def test_every_frame_is_posed_from_the_tlog(seen):
    _, counts = seen
    assert counts["frames_processed"] == (dronecam.SECONDS - START_S) * dronecam.FPS
    assert counts["no_pose"] == 0 and counts["not_on_ground"] == 0


def test_the_walker_is_one_track_through_the_crossing(seen):
    obs, _ = seen
    assert {(o.subject_id, o.subject_class, o.source) for o in obs} == {
        (f"{dronecam.NAME}/1", "moving_object", dronecam.NAME)}
    times = [(o.time - scenario.START).total_seconds() for o in obs]
    assert times[0] < CROSS_S - 5.0 and times[-1] > CROSS_S + 5.0
    assert len(obs) >= 0.8 * (times[-1] - times[0]) * dronecam.FPS  # no long holes


def test_the_ray_cast_puts_the_feet_on_the_walker(seen):
    obs, _ = seen
    errors = []
    for o in obs:
        truth = dronecam.walker((o.time - scenario.START).total_seconds())
        assert truth is not None
        errors.append(math.dist(scenario.FRAME.xy(o.lon, o.lat), truth))
    assert errors and max(errors) < MAX_ERROR_M, max(errors)


def test_the_crossing_is_seen_on_the_border_line(seen):
    obs, _ = seen
    ys = [(o.time, scenario.FRAME.xy(o.lon, o.lat)[1]) for o in obs]
    before = max(t for t, y in ys if y < dronecam.BORDER_Y)
    after = min(t for t, y in ys if y >= dronecam.BORDER_Y)
    assert before < after
    assert abs((after - scenario.START).total_seconds() - CROSS_S) < 1.0
