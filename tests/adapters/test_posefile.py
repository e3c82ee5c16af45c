"""Drone pose files: .tlogs written with pymavlink (gimbal messages included) and the real tlog and KLV."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as dialect
from pyproj import Geod

from routewatch.geo.camera import frame_centre
from routewatch.geo.crs import LocalFrame, angle_diff_deg
from routewatch.geo.dronepose import camera_pose
from routewatch.ingest import klv
from routewatch.ingest.mavlink import MavlinkStats, TlogWriter, iter_tlog
from routewatch.ingest.posefile import PoseFileError, find_pose_file, read_klv, read_pose_file, read_tlog
from routewatch.model import Observation

T0 = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
FRAME = LocalFrame(149.165, -35.362)
GEOD = Geod(ellps="WGS84")
GIMBAL = dialect.MAV_COMP_ID_GIMBAL
EARTH = dialect.GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME
VEHICLE = dialect.GIMBAL_DEVICE_FLAGS_YAW_IN_VEHICLE_FRAME
LOCK = dialect.GIMBAL_DEVICE_FLAGS_YAW_LOCK
ARDUPILOT = dialect.GIMBAL_DEVICE_FLAGS_ROLL_LOCK | dialect.GIMBAL_DEVICE_FLAGS_PITCH_LOCK


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def quaternion(yaw: float, pitch: float, roll: float) -> list[float]:
    """(w, x, y, z) of z-y-x Euler angles in degrees."""
    cy, sy = math.cos(math.radians(yaw) / 2), math.sin(math.radians(yaw) / 2)
    cp, sp = math.cos(math.radians(pitch) / 2), math.sin(math.radians(pitch) / 2)
    cr, sr = math.cos(math.radians(roll) / 2), math.sin(math.radians(roll) / 2)
    return [cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy]


def gimbal_status(flags: int, q: list[float], device: int = 0) -> object:
    return dialect.MAVLink_gimbal_device_attitude_status_message(0, 0, 0, flags, q, math.nan, math.nan, math.nan, 0,
                                                                 math.nan, math.nan, device)


def vehicle(w: TlogWriter, sysid: int = 1, seconds: int = 5, *, heading: float = 40.0, pitch: float = -5.0,
            roll: float = 2.0, offset_s: float | None = 1.5) -> None:
    """A vehicle at 10 Hz hovering at 100 m above a 600 m home, facing `heading`."""
    lon, lat = FRAME.lonlat(0.0, 0.0)
    for k in range(seconds * 10 + 1):
        t = at(k / 10)
        if k % 10 == 0:
            w.heartbeat(t, sysid)
            if offset_s is not None:
                w.system_time(t, sysid, t - timedelta(seconds=offset_s))
        w.global_position_int(t, sysid, lat, lon, 700.0, 100.0, hdg_deg=heading)
        w.attitude(t, sysid, roll, pitch, heading)


def write(tmp_path: Path, w: TlogWriter, name: str = "f.tlog") -> Path:
    return w.write(tmp_path / name)


@pytest.mark.parametrize(("flags", "yaw", "expect_yaw"), [
    pytest.param(VEHICLE, 15.0, 15.0, id="yaw-in-vehicle-frame"),
    pytest.param(EARTH, 15.0, 15.0 - 40.0, id="yaw-in-earth-frame"),
    pytest.param(ARDUPILOT, 15.0, 15.0, id="ardupilot-flags-no-yaw-flag-is-vehicle"),
    pytest.param(LOCK, 15.0, 15.0 - 40.0, id="legacy-yaw-lock-is-earth"),
    pytest.param(EARTH | LOCK, -170.0, 150.0, id="earth-wraps"),
])
def test_gimbal_device_attitude_frames(tmp_path, flags, yaw, expect_yaw):
    w = TlogWriter(mavlink2=True)
    vehicle(w)
    for k in range(51):
        w.message(at(k / 10 + 0.05), 1, gimbal_status(flags, quaternion(yaw, -70.0, 3.0)), compid=GIMBAL)
    pf = read_tlog(write(tmp_path, w))
    assert pf.gimbal == "GIMBAL_DEVICE_ATTITUDE_STATUS"
    p = pf.track().at(at(2.0))
    assert p is not None and p.gimbal_yaw_deg is not None
    assert angle_diff_deg(p.gimbal_yaw_deg, expect_yaw) < 1e-3
    assert p.gimbal_pitch_deg == pytest.approx(-70.0, abs=1e-3)
    assert p.gimbal_roll_deg == pytest.approx(3.0, abs=1e-3)
    # Vehicle-frame pitch and roll are to the horizon: the vehicle's own pitch and roll do not tilt the camera.
    cam = camera_pose(p)
    assert cam is not None and (cam.pitch_deg, cam.roll_deg) == (0.0, 0.0)
    assert angle_diff_deg(cam.heading_deg + cam.az_deg, expect_yaw + 40.0) < 1e-3


@pytest.mark.parametrize(("frame", "expect_pitch"), [("body", -60.0 - 5.0), ("vehicle", -60.0)])
def test_mount_status_body_or_vehicle_frame(tmp_path, frame, expect_pitch):
    w = TlogWriter()
    vehicle(w)  # nose 5 degrees down, no roll of the mount
    for k in range(51):
        w.message(at(k / 10 + 0.05), 1, dialect.MAVLink_mount_status_message(0, 0, -6000, 0, 0, 2))
    pf = read_tlog(write(tmp_path, w), mount_status_frame=frame)  # type: ignore[arg-type]
    assert pf.gimbal == f"MOUNT_STATUS ({frame} frame)"
    p = pf.track().at(at(1.0))
    assert p is not None and p.gimbal_pitch_deg is not None
    # body: the mount's -60 is to the airframe, pitched -5 (its roll of 2 degrees tilts it a little too)
    assert p.gimbal_pitch_deg == pytest.approx(expect_pitch, abs=0.1)


def test_gimbal_device_status_is_preferred_and_a_second_gimbal_is_not_mixed_in(tmp_path):
    w = TlogWriter(mavlink2=True)
    vehicle(w)
    for k in range(51):
        t = at(k / 10 + 0.05)
        w.message(t, 1, dialect.MAVLink_mount_status_message(0, 0, -9000, 0, 0))
        w.message(t, 1, gimbal_status(VEHICLE, quaternion(0.0, -45.0, 0.0), device=0), compid=GIMBAL)
        w.message(t, 1, gimbal_status(VEHICLE, quaternion(90.0, -10.0, 0.0), device=0), compid=GIMBAL + 1)
    w.message(at(5.1), 1, gimbal_status(VEHICLE, [0.0, 0.0, 0.0, 0.0]), compid=GIMBAL)  # not a rotation
    pf = read_tlog(write(tmp_path, w))
    assert pf.gimbal == "GIMBAL_DEVICE_ATTITUDE_STATUS"
    assert pf.counts["other_gimbal"] == 51 and pf.counts["invalid_gimbal"] == 1
    pitches = {round(p.gimbal_pitch_deg or 0.0, 3) for p in pf.poses}
    assert pitches == {-45.0}


def test_home_altitude_and_vehicle_clock_offset(tmp_path):
    w = TlogWriter()
    vehicle(w, offset_s=1.5)
    pf = read_tlog(write(tmp_path, w))
    assert pf.home_alt_m == pytest.approx(600.0)
    assert pf.vehicle_clock_offset_s == pytest.approx(1.5)
    assert pf.gimbal == "" and all(p.gimbal_pitch_deg is None for p in pf.poses)
    assert len(pf.poses) == 51 and pf.poses[0].alt_m == pytest.approx(700.0)
    assert pf.poses[10].heading_deg == pytest.approx(40.0, abs=1e-4)
    # No SYSTEM_TIME: no offset to give.
    w2 = TlogWriter()
    vehicle(w2, offset_s=None)
    assert read_tlog(write(tmp_path, w2, "b.tlog")).vehicle_clock_offset_s is None


def test_streams_at_different_rates_are_merged_without_extrapolation(tmp_path):
    w = TlogWriter(mavlink2=True)
    w.heartbeat(at(0), 1)
    for k in range(0, 11):  # position at 1 Hz, moving 10 m/s north
        lon_k, lat_k = FRAME.lonlat(0.0, 10.0 * k)
        w.global_position_int(at(k), 1, lat_k, lon_k, 700.0, 100.0)
    for k in range(0, 41):  # attitude at 4 Hz, turning 10 deg/s
        w.attitude(at(k / 4 + 0.1), 1, 0.0, 0.0, (10.0 * (k / 4 + 0.1) + 180) % 360 - 180)
    for k in range(0, 21):  # gimbal at 2 Hz, pitching down 2 deg/s
        w.message(at(k / 2 + 0.3), 1, gimbal_status(VEHICLE, quaternion(0.0, -40.0 - 2.0 * (k / 2 + 0.3), 0.0)),
                  compid=GIMBAL)
    pf = read_tlog(write(tmp_path, w), max_gap_s=1.0)
    track = pf.track()
    for s in (0.35, 2.0, 4.62, 9.9):
        p = track.at(at(s), max_gap_s=1.0)
        assert p is not None
        x, y = FRAME.xy(p.lon, p.lat)
        assert (x, y) == pytest.approx((0.0, 10.0 * s), abs=0.01)  # MAVLink's 1e-7 degrees: ~1 cm
        assert angle_diff_deg(p.heading_deg, 10.0 * s) < 1e-3
        assert p.gimbal_pitch_deg == pytest.approx(-40.0 - 2.0 * s, abs=1e-3)
    # Past the ends values are held (within max_gap_s), never extrapolated: the last position (10 s) stays.
    end = track.at(at(10.8), max_gap_s=1.0)
    assert end is not None and FRAME.xy(end.lon, end.lat)[1] == pytest.approx(100.0, abs=0.01)
    assert end.gimbal_pitch_deg == pytest.approx(-40.0 - 2.0 * 10.3, abs=1e-3)  # the last gimbal sample
    assert track.at(at(11.5), max_gap_s=1.0) is None and track.at(at(-1.5), max_gap_s=1.0) is None


def test_several_vehicles_need_a_sysid(tmp_path):
    w = TlogWriter()
    vehicle(w, 1, heading=10.0)
    vehicle(w, 2, heading=200.0)
    path = write(tmp_path, w)
    with pytest.raises(PoseFileError, match=r"several vehicles \[1, 2\]; set drone.sysid"):
        read_tlog(path)
    assert read_tlog(path, sysid=2).poses[0].heading_deg == pytest.approx(200.0, abs=1e-4)
    with pytest.raises(PoseFileError, match="no position and attitude from system 3"):
        read_tlog(path, sysid=3)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "no vehicle with both GLOBAL_POSITION_INT"),
    (b"\x00" * 1000, "no vehicle"),
    (None, "cannot read pose file"),
])
def test_unusable_tlogs(tmp_path, content, message):
    path = tmp_path / "x.tlog"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PoseFileError, match=message):
        read_pose_file(path)


def test_a_gimbal_that_never_meets_the_attitude_gives_no_pose(tmp_path):
    w = TlogWriter(mavlink2=True)
    vehicle(w, seconds=2)
    w.message(at(30.0), 1, gimbal_status(VEHICLE, quaternion(0.0, -45.0, 0.0)), compid=GIMBAL)
    with pytest.raises(PoseFileError, match="no moment with position, attitude and gimbal"):
        read_tlog(write(tmp_path, w))


@pytest.mark.parametrize(("present", "explicit", "found"), [
    (["v.mp4.tlog"], None, "v.mp4.tlog"),
    (["v.tlog"], None, "v.tlog"),
    (["v.klv"], None, "v.klv"),
    (["v.tlog", "other.tlog"], None, "v.tlog"),
    (["other.tlog"], "other.tlog", "other.tlog"),
    ([], None, PoseFileError("no pose file for drone video")),
    (["v.tlog", "v.klv"], None, PoseFileError("several pose files")),
    (["v.tlog"], "gone.tlog", PoseFileError("pose file not found")),
])
def test_find_pose_file(tmp_path, present, explicit, found):
    for name in present:
        (tmp_path / name).write_bytes(b"")
    video = tmp_path / "v.mp4"
    arg = tmp_path / explicit if explicit else None
    if isinstance(found, Exception):
        with pytest.raises(PoseFileError, match=str(found)):
            find_pose_file(video, arg)
    else:
        assert find_pose_file(video, arg) == tmp_path / found


# --- real data (../shared/data; skipped when absent) ---


def test_real_tlog_mount_status_reads_as_a_body_frame_servo_mount(shared_data):
    path = shared_data / "mavlink" / "dronekit_flight_replay_flight.tlog"
    body = read_tlog(path)
    vehicle_frame = read_tlog(path, mount_status_frame="vehicle")
    conn = mavutil.mavlink_connection(str(path))
    mounts = 0
    while (m := conn.recv_match(type="MOUNT_STATUS")) is not None:
        mounts += m.get_srcSystem() == 1
    conn.close()
    assert body.gimbal == "MOUNT_STATUS (body frame)"
    assert body.counts["gimbal"] == mounts == 2825  # pymavlink agrees on every one
    assert body.counts["fixes"] == 2684 and body.counts["attitudes"] == 2829
    assert body.vehicle_clock_offset_s == pytest.approx(-1.43, abs=0.01)
    assert body.home_alt_m == pytest.approx(590.0, abs=1.0)
    # The 2015 copter's servo mount reports its angles to the airframe: read so, the camera holds a
    # steady pitch to the horizon while the copter pitches by up to 20 degrees in flight.
    steady = statistics.pstdev([p.gimbal_pitch_deg or 0.0 for p in body.poses[1000:]])
    swinging = statistics.pstdev([p.gimbal_pitch_deg or 0.0 for p in vehicle_frame.poses[1000:]])
    assert steady < 2.5 < 4.0 < swinging, (steady, swinging)


def test_real_klv_poses_reproduce_the_frame_centre(shared_data):
    path = shared_data / "klv" / "klvdata_Cheyenne_st0601.bin"
    pf = read_klv(path)
    assert (pf.kind, len(pf.poses), pf.counts) == ("klv", 407, {"packets": 407, "malformed": 0})
    assert pf.has_fov and pf.poses[0].hfov_deg == pytest.approx(18.7, abs=0.1)
    packets = [p for p in klv.iter_packets(path.read_bytes())]
    track = pf.track()
    errors = []
    for pk in packets:
        u = pk.pose()
        assert u.time is not None and u.frame_centre_elev_m is not None
        p = track.at(u.time, max_gap_s=0.5)  # at a packet's own time: that packet
        cam = camera_pose(p) if p is not None else None
        centre = frame_centre(cam, u.frame_centre_elev_m) if cam is not None else None
        assert centre is not None and u.frame_centre_lat is not None and u.frame_centre_lon is not None
        errors.append(GEOD.inv(*centre, u.frame_centre_lon, u.frame_centre_lat)[2])
    # The same median as the direct ST 0601 computation (test_camera_georef): the vehicle-frame form is exact.
    assert statistics.median(errors) < 15.0
    assert statistics.median(errors) == pytest.approx(8.6, abs=0.3)


def test_real_klv_bad_checksum_packet_is_refused(shared_data):
    with pytest.raises(PoseFileError, match="no MISB ST 0601 packet with a good checksum"):
        read_klv(shared_data / "klv" / "klvdata_DynamicConstantMISMMSPacketData.bin")


def test_real_tlog_poses_carry_the_drones_gps_accuracy(shared_data):
    path = shared_data / "mavlink" / "dronekit_flight_replay_flight.tlog"
    poses = read_tlog(path).poses
    fixes = [e.accuracy_m for e in iter_tlog(path, "f", MavlinkStats()) if isinstance(e, Observation)]
    known = [a for a in fixes if a is not None]
    acc = [p.accuracy_m for p in poses if p.accuracy_m is not None]
    assert len(acc) == len(poses) > 2000 and len(known) == len(fixes)
    # Interpolated between the fixes' own (HDOP x the default UERE): within their range, and plausible.
    assert min(known) <= min(acc) and max(acc) <= max(known)
    assert min(acc) >= 0.5 and max(acc) <= 50.0
