"""The bundled demo: a synthetic patrol over a border sector, written as a real MAVLink tlog.

Subjects (all event times from 2026-06-01T03:00Z):
- sysid 1, our patrol quadrotor, starts a survey lane, is sent to watch the arroyo crossing (it hovers
  75 m south of it, drifting north, while a person walks across the border there: its gimbal camera,
  40 degrees down, films that, see demo.dronecam), resumes the survey and strays once outside its area;
- a small drone broadcasting Remote ID (OPEN_DRONE_ID_LOCATION, relayed by the patrol drone)
  comes north across the border and flies along the arroyo trail;
- a light aircraft (ADSB_VEHICLE) crosses the border low and fast;
- a second Remote ID drone loiters over the ranch airstrip (exclusion zone).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from routewatch.geo.crs import LocalFrame
from routewatch.ingest.mavlink import TlogWriter

START = datetime(2026, 6, 1, 3, 0, 0, tzinfo=UTC)
DURATION_S = 600
FRAME = LocalFrame(-110.98, 31.3325)
GROUND_MSL_M = 1200.0

Path2D = Callable[[float], tuple[float, float]]
Knot = tuple[float, float, float]  # time (s), x, y (m)


def corridors_path() -> Path:
    """The demo corridor file shipped with the package."""
    return Path(str(resources.files("routewatch.app.demo") / "corridors.geojson"))


def _polyline(points: list[tuple[float, float]], speed_m_s: float, start_s: float) -> Path2D:
    """Position at time t moving along points at constant speed (holding at the ends)."""
    legs = [(a, b, math.dist(a, b)) for a, b in itertools.pairwise(points)]

    def at(t: float) -> tuple[float, float]:
        d = max(0.0, t - start_s) * speed_m_s
        for a, b, n in legs:
            if d <= n:
                f = d / n
                return a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])
            d -= n
        return points[-1]

    return at


def _timed(knots: list[Knot]) -> Path2D:
    """Position at time t along (time, x, y) knots, linear between them (holding at the ends)."""
    times = [k[0] for k in knots]

    def at(t: float) -> tuple[float, float]:
        i = bisect.bisect_right(times, t)
        if i == 0:
            return knots[0][1], knots[0][2]
        if i == len(knots):
            return knots[-1][1], knots[-1][2]
        (t0, x0, y0), (t1, x1, y1) = knots[i - 1], knots[i]
        f = (t - t0) / (t1 - t0)
        return x0 + f * (x1 - x0), y0 + f * (y1 - y0)

    return at


def _route(start: tuple[float, float], legs: list[tuple[tuple[float, float], float]]) -> list[Knot]:
    """(time, x, y) knots from a start point and legs (to point, at speed m/s), from t = 0."""
    knots = [(0.0, *start)]
    for (x, y), speed in legs:
        t, x0, y0 = knots[-1]
        knots.append((t + math.dist((x0, y0), (x, y)) / speed, x, y))
    return knots


# The watch over the arroyo crossing: 75 m south of it (the camera looks ahead and down), drifting north. Standing
# off keeps the drone's own position well apart from the walker's: fused into world tracks, a drone above the
# walker would be the nearest candidate for the walker's camera tracks.
HOVER_FROM, HOVER_TO = (-321.0, -92.0), (-321.0, -66.0)
PATROL_AGL_M = 60.0
POSE_STEP_S = 0.5  # the patrol drone's position, attitude and gimbal rate (2 Hz)
GIMBAL_PITCH_DEG = -40.0  # the patrol drone's camera: stabilised, ahead along the heading, 40 degrees down
# Survey lanes at 18 m/s; the detour to the crossing is flown at 7.5 m/s (scanning the arroyo), the watch at
# 0.7 m/s; then the lanes resume, and on the second one the drone strays ~350 m east of its operating area.
PATROL_KNOTS = _route((-1200.0, -400.0), [
    ((-700.0, -400.0), 18.0), (HOVER_FROM, 7.5), (HOVER_TO, 0.7),
    ((1500.0, -400.0), 18.0), ((2150.0, -100.0), 18.0), ((1500.0, 200.0), 18.0), ((-1200.0, 200.0), 18.0),
    ((-1200.0, 800.0), 18.0), ((1500.0, 800.0), 18.0), ((1500.0, 1200.0), 18.0), ((-1200.0, 1200.0), 18.0)])
patrol_xy = _timed(PATROL_KNOTS)


def patrol_heading(t: float) -> float:
    """The patrol drone's heading (degrees) at t s, as its telemetry reports it (north when nearly still)."""
    return _heading(*_velocity(patrol_xy, t)) or 0.0


def patrol_pose(t: float) -> tuple[float, float, float]:
    """(x, y, heading) of the patrol drone at t s as its telemetry gives it: the POSE_STEP_S samples, linear
    between them (the heading along the shorter arc), which is what a pose reader makes of the tlog.

    >>> patrol_pose(0.0)
    (-1200.0, -400.0, 90.0)
    """
    i = min(max(0, math.floor(t / POSE_STEP_S)), round(DURATION_S / POSE_STEP_S) - 1)
    t0, t1 = i * POSE_STEP_S, (i + 1) * POSE_STEP_S
    f = min(max((t - t0) / POSE_STEP_S, 0.0), 1.0)
    (x0, y0), (x1, y1) = patrol_xy(t0), patrol_xy(t1)
    h0, h1 = patrol_heading(t0), patrol_heading(t1)
    dh = (h1 - h0 + 180.0) % 360.0 - 180.0
    return x0 + f * (x1 - x0), y0 + f * (y1 - y0), (h0 + f * dh) % 360.0


_SMUGGLER = _polyline([(-420.0, -1500.0), (-400.0, -1200.0), (-250.0, -400.0), (-300.0, 300.0),
                       (-100.0, 1100.0), (200.0, 1900.0)], 9.0, 30.0)
_AIRCRAFT = _polyline([(2500.0, -4000.0), (600.0, 4000.0)], 55.0, 200.0)
_LOITER_CENTRE = (1250.0, 950.0)
_LOITER_FROM, _LOITER_START = (2600.0, 2400.0), (_LOITER_CENTRE[0] + 150.0, _LOITER_CENTRE[1])
_LOITER_ARRIVES_S = math.dist(_LOITER_FROM, _LOITER_START) / 14.0


def _loiter(t: float) -> tuple[float, float]:
    if t < _LOITER_ARRIVES_S:
        return _polyline([_LOITER_FROM, _LOITER_START], 14.0, 0.0)(t)
    a = (t - _LOITER_ARRIVES_S) / 40.0
    return _LOITER_CENTRE[0] + 150 * math.cos(a), _LOITER_CENTRE[1] + 120 * math.sin(a)


def _velocity(path: Path2D, t: float) -> tuple[float, float]:
    (x0, y0), (x1, y1) = path(t - 0.5), path(t + 0.5)
    return x1 - x0, y1 - y0


def _heading(vx: float, vy: float) -> float | None:
    return None if math.hypot(vx, vy) < 0.3 else math.degrees(math.atan2(vx, vy)) % 360


def _fixes(step_s: float) -> Iterator[tuple[float, datetime]]:
    n = int(DURATION_S / step_s)
    for i in range(n + 1):
        yield i * step_s, START + timedelta(seconds=i * step_s)


def build() -> TlogWriter:
    """Write the whole scenario into a TlogWriter (MAVLink 2, as a ground station would log it)."""
    w = TlogWriter(mavlink2=True)
    for s, t in _fixes(POSE_STEP_S):
        x, y = patrol_xy(s)
        vx, vy = _velocity(patrol_xy, s)
        lon, lat = FRAME.lonlat(x, y)
        if s == int(s):
            w.heartbeat(t, 1)
            w.gps_raw_int(t, 1, 3, lat, lon, GROUND_MSL_M + PATROL_AGL_M)
            # The vehicle clock runs 1.2 s behind the ground station's, as real ones do.
            w.system_time(t, 1, t - timedelta(seconds=1.2))
        w.attitude(t, 1, 0.0, 0.0, patrol_heading(s))
        # MAVLink velocities are north, east, down.
        w.global_position_int(t, 1, lat, lon, GROUND_MSL_M + PATROL_AGL_M, PATROL_AGL_M, vy, vx, 0.0,
                              _heading(vx, vy))
        # The camera gimbal, as ArduPilot 4.3+ reports it: pitch and roll locked to the horizon, yaw following.
        w.gimbal_attitude(t, 1, GIMBAL_PITCH_DEG, time_boot_ms=int(s * 1000))
        if s == int(s):
            _targets(w, s, t)
    return w


def _targets(w: TlogWriter, s: float, t: datetime) -> None:
    if s >= 20:
        x, y = _SMUGGLER(s)
        vx, vy = _velocity(_SMUGGLER, s)
        lon, lat = FRAME.lonlat(x, y)
        w.open_drone_id_location(t, 1, "RID-SMUGGLER-0042", lat, lon, GROUND_MSL_M + 35,
                                 _heading(vx, vy), math.hypot(vx, vy))
    if 200 <= s <= 360:
        x, y = _AIRCRAFT(s)
        vx, vy = _velocity(_AIRCRAFT, s)
        lon, lat = FRAME.lonlat(x, y)
        w.adsb_vehicle(t, 1, 0xA1B2C3, lat, lon, GROUND_MSL_M + 150, _heading(vx, vy) or 0.0,
                       math.hypot(vx, vy), "N512RW")
    if s >= 60:
        x, y = _loiter(s - 60)
        vx, vy = _velocity(_loiter, s - 60)
        lon, lat = FRAME.lonlat(x, y)
        w.open_drone_id_location(t, 1, "RID-LOITER-0007", lat, lon, GROUND_MSL_M + 40,
                                 _heading(vx, vy), math.hypot(vx, vy))


def write_tlog(path: Path) -> Path:
    """Write the scenario tlog to `path` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    build().write(path)
    return path
