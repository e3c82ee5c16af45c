"""Camera coverage of corridors over time: when and where a corridor was inside some camera's footprint. Pure.

Time is cut at every footprint's start and end and every corridor version's; in each piece the
covered part of the corridor is its intersection with the union of the footprints in force.
A corridor's measure is its area (polygons, and centre-lines with a width) or its length (lines,
and centre-lines without a width), in metres in a local frame. Adjacent pieces that cover the
same part merge into one covered interval; pieces that cover none of it are the gaps.

    >>> from datetime import UTC, datetime, timedelta
    >>> from shapely.geometry import box
    >>> from routewatch.model import Corridor
    >>> t0, s = datetime(2026, 1, 1, tzinfo=UTC), timedelta(seconds=1)
    >>> c = Corridor("c", box(0, 0, 0.001, 0.001))
    >>> fp = Footprint("cam", t0 + 2 * s, t0 + 5 * s, box(0, 0, 0.0005, 0.001))
    >>> [cov] = corridor_coverage([CorridorSpan(c, t0, t0 + 10 * s)], [fp])
    >>> [(i.start - t0, i.end - t0, round(i.fraction, 3)) for i in cov.intervals]
    [(datetime.timedelta(seconds=2), datetime.timedelta(seconds=5), 0.5)]
    >>> [(g.start - t0).seconds for g in cov.gaps], round(cov.mean_fraction, 3)
    ([0, 5], 0.15)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import shapely
from shapely.geometry import GeometryCollection, LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from routewatch.geo.crs import LocalFrame
from routewatch.geo.footprint import Footprint
from routewatch.model import Corridor, CorridorKind

MAX_WINDOW = timedelta(days=31)
# Less than this (m^2 or m) is a touch, not coverage.
MIN_MEASURE = 1e-6
EMPTY = GeometryCollection()


class CoverageError(ValueError):
    """A coverage request that cannot be answered as given; the message says why."""


def check_window(start: datetime, end: datetime, max_window: timedelta = MAX_WINDOW) -> None:
    """CoverageError unless [start, end) is a non-empty, time-zoned window no longer than `max_window`.

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> try:
    ...     check_window(t, t + timedelta(days=40))
    ... except CoverageError as exc:
    ...     print(exc)
    the window is 40 days, 0:00:00 long; at most 31 days at a time (split it)
    """
    for name, t in (("from", start), ("to", end)):
        if t.tzinfo is None or t.utcoffset() is None:
            raise CoverageError(f"{name} needs a time zone, e.g. 2026-05-01T12:00:00Z")
    if end < start:
        raise CoverageError(f"the window is reversed: to ({end.isoformat()}) is before from ({start.isoformat()})")
    if end == start:
        raise CoverageError(f"the window is empty: from and to are both {start.isoformat()}")
    if end - start > max_window:
        raise CoverageError(f"the window is {end - start} long; at most {max_window.days} days at a time (split it)")


@dataclass(frozen=True, slots=True)
class CorridorSpan:
    """A corridor version in force from `start` until `end` (exclusive)."""

    corridor: Corridor
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class CoveredInterval:
    """From `start` to `end` the same part of the corridor (`geometry`, lon/lat) was covered:
    `fraction` of its area or length, by `cameras`, for corridor version `version`."""

    start: datetime
    end: datetime
    fraction: float
    cameras: tuple[str, ...]
    version: int
    geometry: BaseGeometry


@dataclass(frozen=True, slots=True)
class Gap:
    """From `start` to `end` no camera covered any of the corridor (while it was in force)."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class CorridorCoverage:
    """One corridor's coverage over a window.

    `in_force_s`: time the corridor was in force in the window; `covered_s`: time any of it was
    covered; `mean_fraction`: the covered fraction averaged over `in_force_s`; `ever_fraction`:
    the fraction covered at some time in the window; `covered`: that part (lon/lat).
    """

    corridor: Corridor
    measure: str
    in_force_s: float
    covered_s: float
    mean_fraction: float
    max_fraction: float
    ever_fraction: float
    intervals: tuple[CoveredInterval, ...]
    gaps: tuple[Gap, ...]
    covered: BaseGeometry


def spans_in_force(versions: Iterable[tuple[Corridor, datetime, bool]], start: datetime,
                   end: datetime) -> list[CorridorSpan]:
    """The spans of (corridor version, saved at, deleted) records that overlap [start, end), clipped to it.

    A version is in force from when it was saved until the next version of its id (a deleted one
    ends it).

    >>> from datetime import UTC
    >>> from shapely.geometry import box
    >>> t, h = datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1)
    >>> v1, v2 = Corridor("c", box(0, 0, 1, 1)), Corridor("c", box(0, 0, 2, 2), version=2)
    >>> [(s.corridor.version, (s.start - t) // h, (s.end - t) // h)
    ...  for s in spans_in_force([(v1, t, False), (v2, t + h, False)], t - h, t + 3 * h)]
    [(1, 0, 1), (2, 1, 3)]
    """
    by_id: dict[str, list[tuple[Corridor, datetime, bool]]] = {}
    for v in versions:
        by_id.setdefault(v[0].id, []).append(v)
    out: list[CorridorSpan] = []
    for cid in sorted(by_id):
        rows = sorted(by_id[cid], key=lambda v: (v[1], v[0].version))
        for i, (corridor, saved, deleted) in enumerate(rows):
            until = rows[i + 1][1] if i + 1 < len(rows) else end
            a, b = max(saved, start), min(until, end)
            if not deleted and a < b:
                out.append(CorridorSpan(corridor, a, b))
    return out


def _shape(corridor: Corridor, frame: LocalFrame) -> tuple[BaseGeometry, str]:
    """The corridor in metres and whether it is measured by area or length (as the rules see it)."""
    geom = frame.to_local(corridor.geometry)
    if isinstance(geom, LineString | MultiLineString):
        width = corridor.width_m or 0.0
        if corridor.kind is not CorridorKind.LINE and width > 0:
            return geom.buffer(width / 2.0, cap_style="flat"), "area"
        return geom, "length"
    return geom, "area"


def _measure(geom: BaseGeometry, kind: str) -> float:
    return float(geom.area if kind == "area" else geom.length)


@dataclass(frozen=True, slots=True)
class _Piece:
    start: datetime
    end: datetime
    version: int
    covered: BaseGeometry  # metres
    fraction: float
    cameras: frozenset[str]


def corridor_coverage(spans: Sequence[CorridorSpan], footprints: Sequence[Footprint]) -> list[CorridorCoverage]:
    """Coverage of each corridor (by id, in id order) over its spans by the footprints (lon/lat)."""
    tree = STRtree([f.polygon for f in footprints]) if footprints else None
    by_id: dict[str, list[CorridorSpan]] = {}
    for s in spans:
        by_id.setdefault(s.corridor.id, []).append(s)
    out = []
    for cid in sorted(by_id):
        mine = sorted(by_id[cid], key=lambda s: s.start)
        frame = LocalFrame.around(s.corridor.geometry for s in mine)
        pieces: list[_Piece] = []
        shapes = []
        kind = "area"
        for span in mine:
            shape, kind = _shape(span.corridor, frame)
            shapes.append(shape)
            near = [] if tree is None else [footprints[int(i)] for i in tree.query(span.corridor.geometry,
                                                                                     predicate="intersects")]
            pieces.extend(_pieces(span, shape, kind, near, frame))
        out.append(_summarise(mine, shapes, kind, _merge(pieces, kind), frame))
    return out


def _pieces(span: CorridorSpan, shape: BaseGeometry, kind: str, near: list[Footprint],
            frame: LocalFrame) -> list[_Piece]:
    """The span cut at every footprint start and end, each piece with what it covered."""
    near = [f for f in near if f.start < span.end and f.end > span.start]
    total = _measure(shape, kind)
    local = [frame.to_local(f.polygon) for f in near]
    cuts = sorted({span.start, span.end, *(max(f.start, span.start) for f in near),
                   *(min(f.end, span.end) for f in near)})
    cache: dict[frozenset[int], tuple[BaseGeometry, float]] = {frozenset(): (EMPTY, 0.0)}
    pieces = []
    for a, b in itertools.pairwise(cuts):
        active = frozenset(i for i, f in enumerate(near) if f.start <= a < f.end)
        if active not in cache:
            covered = shape.intersection(shapely.union_all([local[i] for i in sorted(active)]))
            m = _measure(covered, kind)
            cache[active] = (covered, m / total if total > 0 and m >= MIN_MEASURE else 0.0)
        covered, fraction = cache[active]
        cameras = frozenset(near[i].camera for i in active) if fraction > 0 else frozenset()
        pieces.append(_Piece(a, b, span.corridor.version, covered if fraction > 0 else EMPTY, fraction, cameras))
    return pieces


def _same(p: _Piece, q: _Piece, kind: str) -> bool:
    if p.end != q.start:
        return False
    if p.fraction == 0.0 or q.fraction == 0.0:
        return p.fraction == q.fraction
    if p.version != q.version or not math.isclose(p.fraction, q.fraction, rel_tol=1e-9, abs_tol=1e-12):
        return False
    return _measure(p.covered.symmetric_difference(q.covered), kind) < MIN_MEASURE


def _merge(pieces: list[_Piece], kind: str) -> list[_Piece]:
    """Adjacent pieces that covered the same part (or none of it) as one."""
    out: list[_Piece] = []
    for p in pieces:
        if out and _same(out[-1], p, kind):
            q = out[-1]
            out[-1] = _Piece(q.start, p.end, q.version, q.covered, q.fraction, q.cameras | p.cameras)
        else:
            out.append(p)
    return out


def _summarise(spans: list[CorridorSpan], shapes: list[BaseGeometry], kind: str, pieces: list[_Piece],
               frame: LocalFrame) -> CorridorCoverage:
    in_force = sum((s.end - s.start).total_seconds() for s in spans)
    covered = [p for p in pieces if p.fraction > 0]
    covered_s = sum((p.end - p.start).total_seconds() for p in covered)
    weighted = sum(p.fraction * (p.end - p.start).total_seconds() for p in covered)
    ever = shapely.union_all([p.covered for p in covered]) if covered else EMPTY
    whole = _measure(shapely.union_all(shapes), kind)
    intervals = tuple(CoveredInterval(p.start, p.end, p.fraction, tuple(sorted(p.cameras)), p.version,
                                      frame.to_lonlat(p.covered)) for p in covered)
    gaps = tuple(Gap(p.start, p.end) for p in pieces if p.fraction == 0)
    return CorridorCoverage(
        corridor=spans[-1].corridor, measure=kind, in_force_s=in_force, covered_s=covered_s,
        mean_fraction=weighted / in_force if in_force > 0 else 0.0,
        max_fraction=max((p.fraction for p in covered), default=0.0),
        ever_fraction=min(1.0, _measure(ever, kind) / whole) if whole > 0 else 0.0,
        intervals=intervals, gaps=gaps, covered=frame.to_lonlat(ever) if covered else EMPTY,
    )
