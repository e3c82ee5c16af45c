"""The bundled demo: a synthetic patrol over a border sector, written as a real MAVLink tlog.

Subjects (all event times from 2026-06-01T03:00Z):
- sysid 1, our patrol quadrotor, flies a survey pattern and strays once outside its area;
- a small drone broadcasting Remote ID (OPEN_DRONE_ID_LOCATION, relayed by the patrol drone)
  comes north across the border and flies along the arroyo trail;
- a light aircraft (ADSB_VEHICLE) crosses the border low and fast;
- a second Remote ID drone loiters over the ranch airstrip (exclusion zone).
"""

from __future__ import annotations

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


def _patrol(t: float) -> tuple[float, float]:
    # Survey lanes; on the second leg the drone strays ~350 m east of its operating area.
    lanes = [(-1200.0, -400.0), (1500.0, -400.0), (2150.0, -100.0), (1500.0, 200.0), (-1200.0, 200.0),
             (-1200.0, 800.0), (1500.0, 800.0), (1500.0, 1200.0), (-1200.0, 1200.0)]
    return _polyline(lanes, 18.0, 0.0)(t)


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
    for s, t in _fixes(0.5):
        x, y = _patrol(s)
        vx, vy = _velocity(_patrol, s)
        lon, lat = FRAME.lonlat(x, y)
        if s == int(s):
            w.heartbeat(t, 1)
            w.gps_raw_int(t, 1, 3, lat, lon, GROUND_MSL_M + 60)
            # The vehicle clock runs 1.2 s behind the ground station's, as real ones do.
            w.system_time(t, 1, t - timedelta(seconds=1.2))
        w.attitude(t, 1, 0.0, 0.0, _heading(vx, vy) or 0.0)
        # MAVLink velocities are north, east, down.
        w.global_position_int(t, 1, lat, lon, GROUND_MSL_M + 60, 60, vy, vx, 0.0, _heading(vx, vy))
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
