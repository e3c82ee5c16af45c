"""Drone pose at a frame's time: telemetry interpolated, never extrapolated or guessed across gaps."""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from routewatch.geo.crs import LocalFrame
from routewatch.model import POSE_ANGLES, Pose


def lerp_angle_deg(a: float, b: float, f: float) -> float:
    """Angle a fraction f of the way from a to b along the shorter arc, in [0, 360).

    >>> lerp_angle_deg(350.0, 10.0, 0.5), lerp_angle_deg(10.0, 350.0, 0.25)
    (0.0, 5.0)
    """
    d = (b - a + 180.0) % 360.0 - 180.0
    v = (a + f * d) % 360.0
    # A tiny negative angle modulo 360 rounds to 360.0 itself.
    return 0.0 if v >= 360.0 else v


def _signed(deg: float) -> float:
    """An angle in [-180, 180) (pitch and roll read better signed)."""
    v = (deg + 180.0) % 360.0
    return (0.0 if v >= 360.0 else v) - 180.0


class PoseTrack:
    """Time-ordered poses of one vehicle, interpolated at a time given in the receiver's clock.

    Pose times are in the vehicle clock; `clock_offset_s` is receiver clock minus vehicle clock
    (as MAVLink SYSTEM_TIME against tlog/receipt time gives), so `at(t)` reads the poses at
    t - clock_offset_s. Poses may arrive in any order; a pose at an existing time replaces it.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> track = PoseTrack([Pose(t0, 149.16, -35.36, 100, 350, 0, 0),
    ...                    Pose(t0 + timedelta(seconds=1), 149.16, -35.36, 110, 10, 0, 0)])
    >>> p = track.at(t0 + timedelta(seconds=0.5))
    >>> p.alt_m, p.heading_deg
    (105.0, 0.0)
    >>> track.at(t0 + timedelta(seconds=5)) is None
    True
    """

    __slots__ = ("_frame", "_poses", "_ref", "_times", "_xy", "clock_offset_s")

    def __init__(self, poses: Iterable[Pose] = (), *, clock_offset_s: float = 0.0) -> None:
        if not math.isfinite(clock_offset_s):
            raise ValueError(f"clock_offset_s must be finite, got {clock_offset_s}")
        self.clock_offset_s = float(clock_offset_s)
        self._frame: LocalFrame | None = None
        self._ref: datetime | None = None
        self._times: list[float] = []
        self._poses: list[Pose] = []
        self._xy: list[tuple[float, float]] = []
        self.extend(poses)

    def __len__(self) -> int:
        return len(self._poses)

    @property
    def poses(self) -> tuple[Pose, ...]:
        """The poses held, in time order."""
        return tuple(self._poses)

    def add(self, pose: Pose) -> None:
        """Insert one pose in time order; one already at that time is replaced."""
        if self._frame is None:
            # One frame for the whole track: a flight stays well within its ~1000 km accurate reach.
            self._frame = LocalFrame(pose.lon, pose.lat)
            self._ref = pose.time
        t = self._seconds(pose.time)
        i = bisect.bisect_left(self._times, t)
        xy = self._frame.xy(pose.lon, pose.lat)
        if i < len(self._times) and self._times[i] == t:
            self._poses[i], self._xy[i] = pose, xy
            return
        self._times.insert(i, t)
        self._poses.insert(i, pose)
        self._xy.insert(i, xy)

    def extend(self, poses: Iterable[Pose]) -> None:
        """Insert many poses (any order)."""
        for p in poses:
            self.add(p)

    def drop_before(self, t: datetime) -> int:
        """Forget poses older than receiver time t (bounds memory on a live feed); returns how many."""
        if not self._times:
            return 0
        i = bisect.bisect_left(self._times, self._seconds(t) - self.clock_offset_s)
        del self._times[:i], self._poses[:i], self._xy[:i]
        return i

    def at(self, t: datetime, max_gap_s: float = 1.0) -> Pose | None:
        """The pose at receiver time t, or None with no pose within max_gap_s on each side of it.

        Between two poses both must be within max_gap_s of t; before the first or after the last
        pose the end pose is held if it is within max_gap_s, never extrapolated. The result's
        `time` is t (receiver clock).
        """
        if not (max_gap_s >= 0.0):
            raise ValueError(f"max_gap_s must be >= 0, got {max_gap_s}")
        if not self._times:
            return None
        tv = self._seconds(t) - self.clock_offset_s
        i = bisect.bisect_left(self._times, tv)
        if i < len(self._times) and self._times[i] == tv:
            return dataclasses.replace(self._poses[i], time=t)
        if i == 0 or i == len(self._times):
            j = 0 if i == 0 else i - 1
            return dataclasses.replace(self._poses[j], time=t) if abs(self._times[j] - tv) <= max_gap_s else None
        t0, t1 = self._times[i - 1], self._times[i]
        if tv - t0 > max_gap_s or t1 - tv > max_gap_s:
            return None
        return self._blend(i - 1, i, (tv - t0) / (t1 - t0), t)

    def _seconds(self, t: datetime) -> float:
        # Seconds since the first pose seen: epoch seconds as floats lose ~0.2 us, which is mm at speed.
        assert self._ref is not None
        return (t - self._ref) / timedelta(seconds=1)

    def _blend(self, i: int, j: int, f: float, t: datetime) -> Pose:
        a, b = self._poses[i], self._poses[j]
        (xa, ya), (xb, yb) = self._xy[i], self._xy[j]
        assert self._frame is not None
        lon, lat = self._frame.lonlat(xa + f * (xb - xa), ya + f * (yb - ya))
        angles: dict[str, float | None] = {}
        for name in POSE_ANGLES:
            va, vb = getattr(a, name), getattr(b, name)
            if va is None or vb is None:
                # Known at one end only: not guessed.
                angles[name] = None
            else:
                v = lerp_angle_deg(va, vb, f)
                angles[name] = v if name == "heading_deg" else _signed(v)
        return Pose(
            time=t, lon=lon, lat=lat, alt_m=a.alt_m + f * (b.alt_m - a.alt_m),
            heading_deg=_required(angles["heading_deg"]), pitch_deg=_required(angles["pitch_deg"]),
            roll_deg=_required(angles["roll_deg"]), gimbal_pitch_deg=angles["gimbal_pitch_deg"],
            gimbal_yaw_deg=angles["gimbal_yaw_deg"], gimbal_roll_deg=angles["gimbal_roll_deg"],
            hfov_deg=_lerp(a.hfov_deg, b.hfov_deg, f), vfov_deg=_lerp(a.vfov_deg, b.vfov_deg, f),
            accuracy_m=_lerp(a.accuracy_m, b.accuracy_m, f),
        )


def _required(v: float | None) -> float:
    assert v is not None
    return v


def _lerp(a: float | None, b: float | None, f: float) -> float | None:
    """Linear blend of a value known at both ends; None (not guessed) otherwise."""
    return None if a is None or b is None else a + f * (b - a)
