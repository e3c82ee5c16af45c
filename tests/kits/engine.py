"""Helpers to build corridors and tracks in local metres for engine tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from shapely.geometry import LineString, Polygon

from routewatch.geo.crs import LocalFrame
from routewatch.model import Corridor, CorridorKind, Direction, Observation, Role

FRAME = LocalFrame(149.16, -35.36)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ll(x: float, y: float) -> tuple[float, float]:
    return FRAME.lonlat(x, y)


def line(cid: str, pts: Sequence[tuple[float, float]], kind: CorridorKind = CorridorKind.LINE,
         **kw: object) -> Corridor:
    return Corridor(cid, LineString([ll(*p) for p in pts]), kind=kind, **kw)  # type: ignore[arg-type]


def box(cid: str, x0: float, y0: float, x1: float, y1: float, kind: CorridorKind = CorridorKind.EXCLUSION,
        **kw: object) -> Corridor:
    ring = [ll(x0, y0), ll(x1, y0), ll(x1, y1), ll(x0, y1)]
    return Corridor(cid, Polygon(ring), kind=kind, **kw)  # type: ignore[arg-type]


def corridor(cid: str, pts: Sequence[tuple[float, float]], width: float, direction: Direction | None,
             **kw: object) -> Corridor:
    return line(cid, pts, CorridorKind.CORRIDOR, width_m=width, direction=direction, **kw)


def fixes(points: Iterable[tuple[float, float, float]], subject: str = "s1", cls: str = "person",
          role: Role = Role.TARGET) -> list[Observation]:
    """(t_s, x, y) -> observations."""
    out = []
    for t, x, y in points:
        lon, lat = ll(x, y)
        out.append(Observation(subject, T0 + timedelta(seconds=t), lon, lat, subject_class=cls, role=role))
    return out


def walk(x0: float, y0: float, x1: float, y1: float, n: int, t0: float = 0.0, dt: float = 1.0):
    """n+1 evenly spaced fixes from (x0, y0) to (x1, y1)."""
    return [(t0 + i * dt, x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(n + 1)]
