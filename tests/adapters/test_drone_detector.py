"""The drone path with the real YOLO model on a real video, posed by a .tlog written with pymavlink.

traffic_topdown.mp4 is a high view of a street; here it stands for a drone hovering 30 m up with
its gimbal 40 degrees down, facing east. Parked cars then must stay put on the map, every
position must lie in the camera's footprint, and a telemetry gap must leave frames unplaced.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pymavlink.dialects.v20 import ardupilotmega as dialect
from shapely.geometry import Point, Polygon

from routewatch.cameras.drone import DroneVision
from routewatch.config.cameras import CameraConfig
from routewatch.geo.crs import LocalFrame
from routewatch.ingest.mavlink import TlogWriter

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
FRAME = LocalFrame(-1.25, 51.75)
AGL, HOME = 30.0, 80.0
HEADING, PITCH, HFOV = 90.0, -40.0, 60.0
GAP = (20.0, 30.0)


def footprint(width: int, height: int) -> Polygon:
    """The ground seen (metres east, north of the drone), from the image corners, by hand."""
    f = width / 2 / math.tan(math.radians(HFOV) / 2)
    p = math.radians(PITCH)
    corners = []
    for u, v in ((0, 0), (width, 0), (width, height), (0, height)):
        a, b = (u - width / 2) / f, (v - height / 2) / f
        # east-facing camera in (east, north, up): forward (cos p, 0, sin p), right (0, -1, 0), down (sin p, 0, -cos p)
        east, north, up = math.cos(p) + b * math.sin(p), -a, math.sin(p) - b * math.cos(p)
        s = AGL / -up
        corners.append((east * s, north * s))
    return Polygon(corners)


def test_real_video_from_a_hovering_drone(shared_data, openvino_model, tmp_path, monkeypatch):
    model = openvino_model
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    video = tmp_path / "street.mp4"
    video.symlink_to(shared_data / "video" / "traffic_topdown.mp4")
    w = TlogWriter(mavlink2=True)
    lon, lat = FRAME.lonlat(0.0, 0.0)
    q = [math.cos(math.radians(PITCH) / 2), 0.0, math.sin(math.radians(PITCH) / 2), 0.0]
    for k in range(0, 80 * 5):
        t = k / 5
        if GAP[0] < t < GAP[1]:
            continue
        at = T0 + timedelta(seconds=t)
        w.heartbeat(at, 1)
        w.global_position_int(at, 1, lat, lon, HOME + AGL, AGL, hdg_deg=HEADING)
        w.attitude(at, 1, 1.0, -3.0, HEADING)
        w.message(at, 1, dialect.MAVLink_gimbal_device_attitude_status_message(
            0, 0, k, dialect.GIMBAL_DEVICE_FLAGS_YAW_IN_VEHICLE_FRAME, q, 0.0, 0.0, 0.0, 0), compid=154)
    w.write(tmp_path / "street.tlog")
    cam = CameraConfig.model_validate({
        "name": "uav", "kind": "drone", "start_time": T0.isoformat(), "fps": 2,
        "detector": {"model": model, "classes": ["car", "truck"]},
        "drone": {"hfov_deg": HFOV, "max_pose_gap_s": 0.5}})
    counts: Counter[str] = Counter()
    obs = list(DroneVision.for_videos([video], cam).observations(video, counts))
    assert counts["detector_calls"] == counts["frames_processed"] - counts["no_pose"] > 100
    # Frames more than max_pose_gap_s (0.5 s) inside the gap have no pose: about 2 fps x 9 s of them.
    assert counts["no_pose"] == pytest.approx(2 * (GAP[1] - GAP[0] - 1.0), abs=2)
    assert not [o for o in obs if GAP[0] + 0.5 < (o.time - T0).total_seconds() < GAP[1] - 0.5]
    assert {o.subject_class for o in obs} <= {"car", "truck"} and len(obs) > 100
    seen = footprint(640, 360).buffer(0.5)
    assert all(seen.contains(Point(FRAME.xy(o.lon, o.lat))) for o in obs)
    # The longest tracks are parked cars: the same place on the map frame after frame.
    by_track: dict[str, list[tuple[float, float]]] = {}
    for o in obs:
        by_track.setdefault(o.subject_id, []).append(FRAME.xy(o.lon, o.lat))
    longest = sorted(by_track.values(), key=len, reverse=True)[:2]
    for xy in longest:
        assert len(xy) > 40
        spread = max(statistics.pstdev([x for x, _ in xy]), statistics.pstdev([y for _, y in xy]))
        assert spread < 0.5, spread
