"""Drone pose files next to a video: a MAVLink .tlog or a MISB ST 0601 KLV stream -> Pose records.

From a .tlog: GLOBAL_POSITION_INT (position, AMSL altitude; alt - relative_alt gives the home
altitude), ATTITUDE (heading, pitch, roll) and the gimbal: GIMBAL_DEVICE_ATTITUDE_STATUS when
present (its flags say whether the quaternion's yaw is earth- or vehicle-relative), else
MOUNT_STATUS (centidegrees; `mount_status_frame` says how to read it, see geo.dronepose). Pose
times are the tlog's record times (the ground station's clock); SYSTEM_TIME gives the vehicle
clock's offset from it, for videos stamped by the vehicle's clock.

From KLV: each packet with a good checksum, a time stamp (tag 2) and the full sensor pose gives
one Pose: sensor lat/lon/alt (MSL), platform heading/pitch/roll, sensor relative angles, and
the field of view (tags 16/17) when present. Packets that lack any of these are counted, not used.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from routewatch.geo.camera import euler_zyx, quaternion_matrix
from routewatch.geo.dronepose import AttitudeSample, Fix, GimbalFrame, GimbalSample, klv_pose, merge
from routewatch.geo.poseinterp import PoseTrack
from routewatch.ingest import klv
from routewatch.ingest.mavlink.decode import (
    EPOCH,
    GIMBAL_DEVICE_ATTITUDE_STATUS,
    GLOBAL_POSITION_INT,
    MOUNT_STATUS,
    MavlinkDecoder,
    gimbal_yaw_frame,
)
from routewatch.ingest.mavlink.frame import MavlinkStats
from routewatch.model import Attitude, ClockOffset, Observation, Pose, Role

CHUNK = 1 << 20
MAX_KLV_BYTES = 1 << 30
POSE_SUFFIXES = (".tlog", ".klv")


class PoseFileError(ValueError):
    """A pose file is missing, unreadable, or has no usable pose."""


@dataclass(frozen=True, slots=True)
class PoseFile:
    """The poses read from one file, and what the file says about clocks and ground."""

    path: Path
    kind: Literal["tlog", "klv"]
    poses: tuple[Pose, ...]
    gimbal: str = ""
    home_alt_m: float | None = None
    vehicle_clock_offset_s: float | None = None
    counts: Mapping[str, int] = field(default_factory=dict)

    def track(self, clock_offset_s: float = 0.0) -> PoseTrack:
        """A PoseTrack over the poses (clock_offset_s: frame clock minus pose file clock)."""
        return PoseTrack(self.poses, clock_offset_s=clock_offset_s)

    @property
    def has_fov(self) -> bool:
        """Whether the poses carry the camera's field of view (KLV tags 16 and 17)."""
        return any(p.hfov_deg is not None for p in self.poses)


def find_pose_file(video: Path, explicit: Path | None = None) -> Path:
    """The pose file of a video: `explicit`, else VIDEO.tlog, STEM.tlog, VIDEO.klv or STEM.klv beside it."""
    if explicit is not None:
        if not explicit.is_file():
            raise PoseFileError(f"pose file not found: {explicit}")
        return explicit
    names = [video.name + s for s in POSE_SUFFIXES] + [video.stem + s for s in POSE_SUFFIXES]
    found = list(dict.fromkeys(video.with_name(n) for n in names if video.with_name(n).is_file()))
    if not found:
        raise PoseFileError(
            f"no pose file for drone video {video}: put its telemetry beside it as "
            f"{video.with_suffix('.tlog').name} (MAVLink) or {video.with_suffix('.klv').name} (MISB ST 0601), "
            "or set drone.pose_file in the camera file")
    if len(found) > 1:
        raise PoseFileError(f"several pose files for {video}: {', '.join(p.name for p in found)}; "
                            "set drone.pose_file in the camera file to choose one")
    return found[0]


def read_pose_file(path: Path, *, sysid: int | None = None, mount_status_frame: GimbalFrame = "body",
                   max_gap_s: float = 1.0) -> PoseFile:
    """Read a .tlog (by its suffix) or a KLV stream (anything else that holds ST 0601 packets)."""
    if path.suffix.lower() == ".tlog":
        return read_tlog(path, sysid=sysid, mount_status_frame=mount_status_frame, max_gap_s=max_gap_s)
    return read_klv(path)


class _TlogTaps:
    """Raw payloads the model events leave out: gimbal attitude and home altitude, per system."""

    def __init__(self, mount_status_frame: GimbalFrame) -> None:
        self.mount_frame = mount_status_frame
        self.gimbal: dict[int, list[GimbalSample]] = {}
        self.mount: dict[int, list[GimbalSample]] = {}
        self.gimbal_ids: dict[int, tuple[int, int]] = {}
        self.home: dict[int, list[float]] = {}
        self.counts: Counter[str] = Counter()

    def taps(self) -> dict[int, Any]:
        return {GIMBAL_DEVICE_ATTITUDE_STATUS: self._gimbal_device, MOUNT_STATUS: self._mount_status,
                GLOBAL_POSITION_INT: self._position}

    def _gimbal_device(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        # The first gimbal heard is the camera's; a second one on the same vehicle is not mixed in.
        if self.gimbal_ids.setdefault(sysid, gimbal_device_id(compid, v)) != gimbal_device_id(compid, v):
            self.counts["other_gimbal"] += 1
            return
        sample = gimbal_device_sample(t, v)
        if sample is None:
            self.counts["invalid_gimbal"] += 1
            return
        self.gimbal.setdefault(sysid, []).append(sample)

    def _mount_status(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        sample = mount_status_sample(t, v, self.mount_frame)
        if sample is None:
            self.counts["invalid_gimbal"] += 1
            return
        self.mount.setdefault(sysid, []).append(sample)

    def _position(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        home = home_alt_m(v)
        if home is not None:
            self.home.setdefault(sysid, []).append(home)


def gimbal_device_id(compid: int, v: tuple[Any, ...]) -> tuple[int, int]:
    """(component id, gimbal_device_id) of a GIMBAL_DEVICE_ATTITUDE_STATUS payload: which gimbal it is."""
    return compid, v[14]


def gimbal_device_sample(t_us: int, v: tuple[Any, ...]) -> GimbalSample | None:
    """A GIMBAL_DEVICE_ATTITUDE_STATUS payload (wire order) received at t_us; None if its quaternion is invalid."""
    try:
        yaw, pitch, roll = euler_zyx(quaternion_matrix(*v[1:5]))
    except ValueError:
        return None
    frame: GimbalFrame = "earth" if gimbal_yaw_frame(v[9]) == "earth" else "vehicle"
    return GimbalSample(_time(t_us), yaw, pitch, roll, frame)


def mount_status_sample(t_us: int, v: tuple[Any, ...], frame: GimbalFrame) -> GimbalSample | None:
    """A MOUNT_STATUS payload (centidegrees, read in `frame`) received at t_us; None if out of range."""
    pitch, roll, yaw = v[0] / 100.0, v[1] / 100.0, v[2] / 100.0
    if not (abs(pitch) <= 180.0 and abs(roll) <= 180.0 and abs(yaw) <= 360.0):
        return None  # e.g. a GPS_POINT target in old firmware
    return GimbalSample(_time(t_us), yaw, pitch, roll, frame)


def home_alt_m(v: tuple[Any, ...]) -> float | None:
    """Home altitude (m, AMSL) from a GLOBAL_POSITION_INT payload: alt minus relative_alt; None before a fix."""
    lat, lon, alt, rel = v[1], v[2], v[3], v[4]
    return (alt - rel) / 1000.0 if (lat, lon) != (0, 0) else None


def _time(t_us: int) -> datetime:
    return EPOCH + timedelta(microseconds=t_us)


def read_tlog(path: Path, *, sysid: int | None = None, mount_status_frame: GimbalFrame = "body",
              max_gap_s: float = 1.0) -> PoseFile:
    """Poses of one vehicle in a .tlog (the only one, or `sysid`); PoseFileError when there is none."""
    taps = _TlogTaps(mount_status_frame)
    stats = MavlinkStats()
    decoder = MavlinkDecoder("pose", stats, taps=taps.taps())
    fixes: dict[int, list[Fix]] = {}
    atts: dict[int, list[AttitudeSample]] = {}
    offsets: dict[int, list[float]] = {}
    try:
        f = path.open("rb")
    except OSError as e:
        raise PoseFileError(f"cannot read pose file {path}: {e.strerror or e}") from None
    with f:
        while True:
            try:
                data = f.read(CHUNK)
            except OSError as e:
                raise PoseFileError(f"cannot read pose file {path}: {e.strerror or e}") from None
            for ev in decoder.feed_tlog(data, final=not data):
                if isinstance(ev, Observation) and ev.role is Role.PATROL and ev.alt_m is not None:
                    fixes.setdefault(_sysid(ev.subject_id), []).append(
                        Fix(ev.time, ev.lon, ev.lat, ev.alt_m, ev.accuracy_m))
                elif isinstance(ev, Attitude):
                    atts.setdefault(_sysid(ev.subject_id), []).append(
                        AttitudeSample(ev.time, ev.yaw_deg, ev.pitch_deg, ev.roll_deg))
                elif isinstance(ev, ClockOffset):
                    offsets.setdefault(_sysid(ev.subject_id), []).append(ev.offset_s)
            if not data:
                break
    chosen = _choose(path, sorted(s for s in fixes if s in atts), sysid)
    gimbal = taps.gimbal.get(chosen) or taps.mount.get(chosen) or []
    name = ("GIMBAL_DEVICE_ATTITUDE_STATUS" if taps.gimbal.get(chosen)
            else f"MOUNT_STATUS ({mount_status_frame} frame)" if gimbal else "")
    poses, dropped = merge(fixes[chosen], atts[chosen], gimbal, max_gap_s=max_gap_s)
    if not poses:
        raise PoseFileError(f"pose file {path}: vehicle {chosen} has no moment with position, attitude"
                            f"{' and gimbal' if gimbal else ''} within {max_gap_s} s of each other")
    counts = Counter({"fixes": len(fixes[chosen]), "attitudes": len(atts[chosen]), "gimbal": len(gimbal),
                      "gimbal_without_attitude": dropped, "corrupt": stats.corrupt})
    counts.update(taps.counts)
    home = taps.home.get(chosen)
    off = offsets.get(chosen)
    return PoseFile(path, "tlog", tuple(poses), name, statistics.median(home) if home else None,
                    statistics.median(off) if off else None, dict(counts))


def _sysid(subject_id: str) -> int:
    return int(subject_id.rsplit("/", 1)[1])  # the decoder names our vehicles <source>/<sysid>


def _choose(path: Path, vehicles: Sequence[int], sysid: int | None) -> int:
    if sysid is not None:
        if sysid not in vehicles:
            raise PoseFileError(f"pose file {path}: no position and attitude from system {sysid}"
                                f" (vehicles there: {list(vehicles) or 'none'})")
        return sysid
    if not vehicles:
        raise PoseFileError(f"pose file {path}: no vehicle with both GLOBAL_POSITION_INT (with a GPS fix) "
                            "and ATTITUDE")
    if len(vehicles) > 1:
        raise PoseFileError(f"pose file {path} holds several vehicles {list(vehicles)}; set drone.sysid")
    return vehicles[0]


def read_klv(path: Path) -> PoseFile:
    """Poses of a raw MISB ST 0601 KLV stream; PoseFileError when it has no complete, valid packet."""
    try:
        size = path.stat().st_size
        if size > MAX_KLV_BYTES:
            raise PoseFileError(f"pose file {path}: {size} bytes is more than a KLV stream should hold")
        data = path.read_bytes()
    except OSError as e:
        raise PoseFileError(f"cannot read pose file {path}: {e.strerror or e}") from None
    scan = klv.scan(data)
    counts: Counter[str] = Counter(packets=len(scan.packets), malformed=scan.malformed_packets)
    poses: list[Pose] = []
    for p in scan.packets:
        if not p.checksum_ok:
            counts["bad_checksum"] += 1
            continue
        u = p.pose()
        vals = (u.sensor_lon, u.sensor_lat, u.sensor_alt_m, u.platform_heading_deg, u.platform_pitch_deg,
                u.platform_roll_deg, u.sensor_rel_az_deg, u.sensor_rel_el_deg, u.sensor_rel_roll_deg)
        if u.time is None or any(v is None for v in vals):
            counts["incomplete"] += 1
            continue
        lon, lat, alt, heading, pitch, roll, az, el, sroll = (float(v) for v in vals if v is not None)
        hfov = u.hfov_deg if u.hfov_deg is not None and 0.0 < u.hfov_deg < 180.0 else None
        vfov = u.vfov_deg if u.vfov_deg is not None and 0.0 < u.vfov_deg < 180.0 else None
        poses.append(klv_pose(u.time, lon, lat, alt, (heading, pitch, roll), (az, el, sroll), hfov, vfov))
    if not poses:
        raise PoseFileError(f"pose file {path}: no MISB ST 0601 packet with a good checksum, a time stamp and "
                            f"the full sensor pose ({dict(counts)})")
    return PoseFile(path, "klv", tuple(poses), "KLV sensor relative angles", None, None, dict(counts))

