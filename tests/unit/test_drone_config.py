"""Camera files for drone cameras: what is required, what is refused, and the messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routewatch.config.loader import ConfigError, load_camera

GCPS = [[0, 0, 7.0, 45.0], [100, 0, 7.001, 45.0], [100, 100, 7.001, 45.001], [0, 100, 7.0, 45.001]]


def write(tmp_path: Path, cam: dict[str, object]) -> Path:
    path = tmp_path / "cam.json"
    path.write_text(json.dumps({"name": "c", **cam}))
    return path


@pytest.mark.parametrize(("cam", "check"), [
    ({"gcps": GCPS}, lambda c: c.kind == "fixed" and len(c.gcps) == 4),
    ({"kind": "drone"}, lambda c: c.drone.ground_alt_m == "home" and c.drone.max_pose_gap_s == 1.0),
    ({"kind": "drone", "drone": {"hfov_deg": 62.5, "ground_alt_m": 431}},
     lambda c: c.drone.hfov_deg == 62.5 and c.drone.ground_alt_m == 431.0),
    ({"kind": "drone", "drone": {"intrinsics": [800, 800, 320, 240], "pose_file": "x.klv", "sysid": 3,
                                 "mount_status_frame": "vehicle", "fixed_mount_deg": [0, -90, 0],
                                 "start_time_clock": "vehicle", "time_offset_s": -0.25}},
     lambda c: c.drone.intrinsics == (800, 800, 320, 240) and c.drone.pose_file == Path("x.klv")
     and c.drone.fixed_mount_deg == (0, -90, 0)),
])
def test_valid_camera_files(tmp_path, cam, check):
    assert check(load_camera(write(tmp_path, cam)))


@pytest.mark.parametrize(("cam", "message"), [
    ({}, "a fixed camera needs at least four ground control points"),
    ({"gcps": GCPS[:3]}, "at least four"),
    ({"gcps": GCPS, "drone": {"hfov_deg": 60}}, "for `kind: drone` cameras"),
    ({"kind": "drone", "gcps": GCPS}, "placed by its pose, not by ground control points"),
    ({"kind": "satellite"}, "kind"),
    ({"kind": "drone", "drone": {"hfov_deg": 180}}, "hfov_deg"),
    ({"kind": "drone", "drone": {"intrinsics": [0, 800, 320, 240]}}, "positive, finite focal lengths"),
    ({"kind": "drone", "drone": {"fixed_mount_deg": [0, -120, 0]}}, "pitch within +-90"),
    ({"kind": "drone", "drone": {"ground_alt_m": "sea"}}, "ground_alt_m"),
    ({"kind": "drone", "drone": {"ground_alt_m": 20000}}, "between -1000 and 9000"),
    ({"kind": "drone", "drone": {"max_pose_gap_s": 0}}, "max_pose_gap_s"),
    ({"kind": "drone", "drone": {"sysid": 0}}, "sysid"),
    ({"kind": "drone", "drone": {"mount_status_frame": "earth"}}, "mount_status_frame"),
    ({"kind": "drone", "drone": {"hfov": 60}}, "hfov"),
])
def test_invalid_camera_files(tmp_path, cam, message):
    with pytest.raises(ConfigError) as exc:
        load_camera(write(tmp_path, cam))
    assert message in str(exc.value) and "camera file" in str(exc.value), str(exc.value)


def test_a_drone_camera_has_no_gcp_calibration(tmp_path):
    from routewatch.cameras.fixed import calibrate
    from routewatch.geo.homography import CalibrationError

    cam = load_camera(write(tmp_path, {"kind": "drone"}))
    with pytest.raises(CalibrationError, match="drone camera, with no ground control points"):
        calibrate(cam)


@pytest.mark.parametrize("cam", [{"gcps": GCPS}, {"kind": "drone", "drone": {"hfov_deg": 50, "sysid": 2}}])
def test_a_dumped_camera_reads_back(tmp_path, cam):
    first = load_camera(write(tmp_path, cam))
    path = tmp_path / "dumped.json"
    path.write_text(first.model_dump_json())
    assert load_camera(path) == first
