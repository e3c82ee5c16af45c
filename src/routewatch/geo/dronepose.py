"""A drone camera's pose from telemetry: gimbal angle frames, merging separately timed streams. Pure.

Telemetry reports position (GLOBAL_POSITION_INT), attitude (ATTITUDE) and the gimbal
(MOUNT_STATUS, GIMBAL_DEVICE_ATTITUDE_STATUS) as separate streams at their own rates. `merge`
joins them into Pose records at the union of their sample times, each stream interpolated
linearly (angles along the shorter arc) and never across a gap longer than max_gap_s; a
PoseTrack over the result interpolates exactly as the separate streams would.

Gimbal frames (MAVLink gimbal protocol v2, and ArduPilot's MOUNT_STATUS):
- ``vehicle``: yaw relative to the vehicle heading, pitch and roll relative to the horizon. The
  frame of a stabilised gimbal; Pose stores gimbal angles in it.
- ``earth``: yaw relative to true north, pitch and roll relative to the horizon.
- ``body``: all three angles relative to the airframe (an unstabilised mount; ST 0601 sensor
  relative angles), so the vehicle's own pitch and roll tilt the camera.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from routewatch.geo.camera import euler_zyx, rotation_zyx
from routewatch.geo.poseinterp import lerp_angle_deg
from routewatch.model import CameraPose, Pose

GimbalFrame = Literal["vehicle", "earth", "body"]


@dataclass(frozen=True, slots=True)
class Fix:
    """A vehicle position: WGS84 lon/lat and altitude in metres (AMSL from MAVLink), and its one-sigma
    horizontal accuracy in metres when known (GPS)."""

    time: datetime
    lon: float
    lat: float
    alt_m: float
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class AttitudeSample:
    """Vehicle heading (yaw), pitch and roll in degrees, z-y-x (MAVLink ATTITUDE)."""

    time: datetime
    heading_deg: float
    pitch_deg: float
    roll_deg: float


@dataclass(frozen=True, slots=True)
class GimbalSample:
    """Gimbal z-y-x angles in degrees in the given frame."""

    time: datetime
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    frame: GimbalFrame = "vehicle"


def to_vehicle_frame(yaw_deg: float, pitch_deg: float, roll_deg: float, frame: GimbalFrame,
                     att: AttitudeSample) -> tuple[float, float, float]:
    """Gimbal angles in `frame` as vehicle-frame angles (yaw from heading, pitch/roll from horizon).

    >>> att = AttitudeSample(datetime(2026, 1, 1), 30.0, 10.0, 0.0)
    >>> [round(a, 6) + 0.0 for a in to_vehicle_frame(40.0, -60.0, 0.0, "earth", att)]
    [10.0, -60.0, 0.0]
    >>> [round(a, 6) + 0.0 for a in to_vehicle_frame(0.0, -60.0, 0.0, "body", att)]
    [0.0, -50.0, 0.0]
    """
    if frame == "vehicle":
        return yaw_deg, pitch_deg, roll_deg
    if frame == "earth":
        return (yaw_deg - att.heading_deg + 180.0) % 360.0 - 180.0, pitch_deg, roll_deg
    # body: camera = Rz(h) Ry(p) Rx(r) G, so relative to the heading it is Ry(p) Rx(r) G.
    return euler_zyx(rotation_zyx(0.0, att.pitch_deg, att.roll_deg) @ rotation_zyx(yaw_deg, pitch_deg, roll_deg))


def camera_pose(pose: Pose, fixed_mount_deg: tuple[float, float, float] | None = None) -> CameraPose | None:
    """The CameraPose at a Pose: its gimbal (vehicle frame), else a mount fixed to the airframe
    given as (yaw, pitch, roll) relative to the body; None when neither is known.

    >>> from datetime import UTC
    >>> p = Pose(datetime(2026, 1, 1, tzinfo=UTC), 7.0, 45.0, 100.0, 90.0, 5.0, 2.0, -80.0, 10.0, 0.0)
    >>> c = camera_pose(p)
    >>> (c.heading_deg, c.pitch_deg, c.az_deg, c.el_deg)
    (90.0, 0.0, 10.0, -80.0)
    """
    if pose.gimbal_pitch_deg is not None and pose.gimbal_yaw_deg is not None and pose.gimbal_roll_deg is not None:
        # Vehicle frame: only the heading of the airframe turns the camera.
        return CameraPose(pose.lat, pose.lon, pose.alt_m, pose.heading_deg, 0.0, 0.0,
                          pose.gimbal_yaw_deg, pose.gimbal_pitch_deg, pose.gimbal_roll_deg)
    if fixed_mount_deg is None:
        return None
    yaw, pitch, roll = fixed_mount_deg
    return CameraPose(pose.lat, pose.lon, pose.alt_m, pose.heading_deg, pose.pitch_deg, pose.roll_deg,
                      yaw, pitch, roll)


class _Series:
    """Samples of a few values at times (seconds), interpolated with PoseTrack's gap rule."""

    def __init__(self, times: Sequence[float], rows: Sequence[tuple[float, ...]], angles: Sequence[bool]) -> None:
        order = sorted(range(len(times)), key=times.__getitem__)
        self.times = [times[i] for i in order]
        self.rows = [rows[i] for i in order]
        self.angles = angles

    def at(self, t: float, gap: float) -> tuple[float, ...] | None:
        ts = self.times
        i = bisect.bisect_left(ts, t)
        if i < len(ts) and ts[i] == t:
            return self.rows[i]
        if i == 0 or i == len(ts):
            j = 0 if i == 0 else i - 1
            return self.rows[j] if ts and abs(ts[j] - t) <= gap else None
        t0, t1 = ts[i - 1], ts[i]
        if t - t0 > gap or t1 - t > gap:
            return None
        f = (t - t0) / (t1 - t0)
        a, b = self.rows[i - 1], self.rows[i]
        return tuple(lerp_angle_deg(x, y, f) if ang else x + f * (y - x)
                     for x, y, ang in zip(a, b, self.angles, strict=True))


def _unwrap_lon(lons: list[float]) -> list[float]:
    """Longitudes made continuous across the antimeridian (for interpolation)."""
    out = lons[:1]
    for lon in lons[1:]:
        d = (lon - out[-1] + 180.0) % 360.0 - 180.0
        out.append(out[-1] + d)
    return out


def merge(fixes: Iterable[Fix], attitudes: Iterable[AttitudeSample], gimbals: Iterable[GimbalSample] = (),
          *, max_gap_s: float = 1.0) -> tuple[list[Pose], int]:
    """Poses at every sample time where all streams are known; and how many gimbal samples had no
    attitude near them to convert their frame (dropped). No gimbal samples: poses without gimbal.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s = timedelta(seconds=1)
    >>> poses, _ = merge([Fix(t0, 7.0, 45.0, 100.0), Fix(t0 + s, 7.0, 45.001, 110.0)],
    ...                  [AttitudeSample(t0 + s / 2, 90.0, 0.0, 0.0)])
    >>> [(p.time - t0).total_seconds() for p in poses], poses[1].alt_m
    ([0.0, 0.5, 1.0], 105.0)
    """
    if not max_gap_s >= 0.0:
        raise ValueError(f"max_gap_s must be >= 0, got {max_gap_s}")
    fx, at, gb = list(fixes), list(attitudes), list(gimbals)
    if not fx or not at:
        return [], 0
    ref = fx[0].time

    def sec(t: datetime) -> float:
        return (t - ref) / timedelta(seconds=1)

    fx.sort(key=lambda f: f.time)
    lons = _unwrap_lon([f.lon for f in fx])
    # An unknown accuracy is NaN in the series, so it stays unknown wherever it takes part.
    pos = _Series([sec(f.time) for f in fx],
                  [(lon, f.lat, f.alt_m, math.nan if f.accuracy_m is None else f.accuracy_m)
                   for lon, f in zip(lons, fx, strict=True)], (False, False, False, False))
    att = _Series([sec(a.time) for a in at], [(a.heading_deg, a.pitch_deg, a.roll_deg) for a in at],
                  (True, True, True))
    gim: _Series | None = None
    dropped = 0
    if gb:
        g_times, g_rows = [], []
        for g in gb:
            a = att.at(sec(g.time), max_gap_s)
            if a is None:
                dropped += 1
                continue
            g_times.append(sec(g.time))
            g_rows.append(to_vehicle_frame(g.yaw_deg, g.pitch_deg, g.roll_deg, g.frame,
                                           AttitudeSample(g.time, *a)))
        gim = _Series(g_times, g_rows, (True, True, True))
    knots = sorted({*pos.times, *att.times, *(gim.times if gim is not None else ())})
    out: list[Pose] = []
    for k in knots:
        p, a = pos.at(k, max_gap_s), att.at(k, max_gap_s)
        gv = gim.at(k, max_gap_s) if gim is not None else None
        if p is None or a is None or (gim is not None and gv is None):
            continue
        lon = (p[0] + 180.0) % 360.0 - 180.0
        gp, gy, gr = (_signed(gv[1]), _signed(gv[0]), _signed(gv[2])) if gv is not None else (None, None, None)
        out.append(Pose(ref + timedelta(seconds=k), lon, p[1], p[2], a[0] % 360.0, _signed(a[1]), _signed(a[2]),
                        gp, gy, gr, accuracy_m=None if math.isnan(p[3]) else p[3]))
    return out, dropped


def _signed(deg: float) -> float:
    v = (deg + 180.0) % 360.0
    return (0.0 if v >= 360.0 else v) - 180.0


def klv_pose(time: datetime, lon: float, lat: float, alt_m: float, platform: tuple[float, float, float],
             sensor: tuple[float, float, float], hfov_deg: float | None = None,
             vfov_deg: float | None = None) -> Pose:
    """A Pose from MISB ST 0601 values: platform (heading, pitch, roll) and sensor relative
    (azimuth, elevation, roll), both z-y-x; the sensor angles become vehicle-frame gimbal angles."""
    heading, pitch, roll = platform
    gy, gp, gr = to_vehicle_frame(*sensor, "body", AttitudeSample(time, heading, pitch, roll))
    return Pose(time, lon, lat, alt_m, heading % 360.0, _signed(pitch), _signed(roll), gp, gy, gr,
                hfov_deg, vfov_deg)
