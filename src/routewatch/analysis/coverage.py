"""Coverage of corridors by cameras over a window, from the stored footprints: a table and a map layer.

`coverage_report(store, start, end)` measures every corridor (or one) against the footprints
stored for the window (geo.coverage). `versions="current"` measures the corridors in force now
over the whole window (as a planner's backtest does; right for replayed footage, whose event
time is older than the corridors' save time); `versions="history"` measures each stored version
over the time it was in force (from its save time until the next version).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from routewatch.geo.coverage import (
    CorridorCoverage,
    CorridorSpan,
    CoverageError,
    check_window,
    corridor_coverage,
    spans_in_force,
)
from routewatch.geo.footprint import Footprint
from routewatch.model import Corridor

__all__ = ["CoverageError", "CoverageReport", "UnknownCorridorError", "check_window", "coverage_report", "layer",
           "table_lines"]

Versions = Literal["current", "history"]
MAX_FOOTPRINTS = 200_000
MAX_LAYER_FEATURES = 5_000


class UnknownCorridorError(CoverageError):
    """The corridor asked about is not stored (or not in force)."""


class CorridorReads(Protocol):
    """The corridors a coverage report measures (store.corridors)."""

    def current(self) -> tuple[Corridor, ...]:
        """The corridors in force."""

    def versions(self) -> list[tuple[Corridor, datetime, bool]]:
        """Every corridor version: (corridor, saved at, deleted)."""


class FootprintReads(Protocol):
    """The camera footprints a coverage report measures with (store.coverage)."""

    def count_footprints(self, start: datetime | None = None, end: datetime | None = None) -> int:
        """Footprints overlapping [start, end)."""

    def footprints_between(self, start: datetime, end: datetime, *, limit: int | None = None) -> list[Footprint]:
        """Footprints overlapping [start, end)."""


class CoverageStore(Protocol):
    """What a coverage report reads: corridors and footprints."""

    @property
    def corridors(self) -> CorridorReads: ...

    @property
    def coverage(self) -> FootprintReads: ...


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Each corridor's coverage over [start, end), from `footprints` rows of `cameras`."""

    start: datetime
    end: datetime
    versions: Versions
    cameras: tuple[str, ...]
    footprints: int
    corridors: tuple[CorridorCoverage, ...]

    def as_dict(self, *, max_features: int = MAX_LAYER_FEATURES) -> dict[str, Any]:
        """JSON-ready: per corridor the numbers, intervals and gaps, and `layer` (a GeoJSON FeatureCollection)."""
        features, truncated = layer(self.corridors, max_features)
        return {
            "from": self.start.isoformat(), "to": self.end.isoformat(), "versions": self.versions,
            "cameras": list(self.cameras), "footprints": self.footprints,
            "corridors": [_corridor_dict(c) for c in self.corridors],
            "layer": {"type": "FeatureCollection", "features": features},
            "layer_truncated": truncated,
        }


def _iso(t: datetime) -> str:
    return t.isoformat()


def _corridor_dict(c: CorridorCoverage) -> dict[str, Any]:
    return {
        "id": c.corridor.id, "name": c.corridor.name, "kind": c.corridor.kind.value, "version": c.corridor.version,
        "measure": c.measure, "in_force_s": round(c.in_force_s, 6), "covered_s": round(c.covered_s, 6),
        "covered_time_share": round(c.covered_s / c.in_force_s, 6) if c.in_force_s > 0 else 0.0,
        "mean_fraction": round(c.mean_fraction, 6), "max_fraction": round(c.max_fraction, 6),
        "ever_fraction": round(c.ever_fraction, 6),
        "intervals": [{"from": _iso(i.start), "to": _iso(i.end), "seconds": round((i.end - i.start).total_seconds(), 6),
                       "fraction": round(i.fraction, 6), "cameras": list(i.cameras), "version": i.version}
                      for i in c.intervals],
        "gaps": [{"from": _iso(g.start), "to": _iso(g.end), "seconds": round((g.end - g.start).total_seconds(), 6)}
                 for g in c.gaps],
    }


def _geojson(geom: BaseGeometry) -> dict[str, Any]:
    """A GeoJSON geometry with coordinates rounded to 1e-7 degrees (about a centimetre)."""
    rounded = shapely.transform(geom, lambda xy: np.round(xy, 7))
    return dict(mapping(rounded))


def layer(corridors: Sequence[CorridorCoverage], max_features: int = MAX_LAYER_FEATURES
          ) -> tuple[list[dict[str, Any]], bool]:
    """The map layer: per corridor its part covered at some time in the window ("layer": "covered"), then
    the part covered in each interval ("layer": "interval", with from/to/fraction) while `max_features` allow."""
    features: list[dict[str, Any]] = []
    for c in corridors:
        if not c.covered.is_empty:
            features.append({"type": "Feature", "geometry": _geojson(c.covered), "properties": {
                "layer": "covered", "corridor_id": c.corridor.id, "ever_fraction": round(c.ever_fraction, 6),
                "covered_s": round(c.covered_s, 6)}})
    truncated = False
    for c in corridors:
        for i in c.intervals:
            if len(features) >= max_features:
                truncated = True
                break
            features.append({"type": "Feature", "geometry": _geojson(i.geometry), "properties": {
                "layer": "interval", "corridor_id": c.corridor.id, "from": _iso(i.start), "to": _iso(i.end),
                "fraction": round(i.fraction, 6), "cameras": list(i.cameras), "version": i.version}})
    return features, truncated


def coverage_report(store: CoverageStore, start: datetime, end: datetime, *, corridor_id: str | None = None,
                    versions: Versions = "current", max_footprints: int = MAX_FOOTPRINTS) -> CoverageReport:
    """Coverage of the corridors (or one) over [start, end) by the stored footprints.

    CoverageError for a bad window or too many footprints in it; UnknownCorridorError for a
    corridor that is not stored (or, with versions="current", not in force).
    """
    check_window(start, end)
    if versions == "current":
        current = store.corridors.current()
        spans = [CorridorSpan(c, start, end) for c in current]
    elif versions == "history":
        stored = store.corridors.versions()
        spans = spans_in_force(stored, start, end)
    else:
        raise CoverageError(f"versions must be 'current' or 'history', not {versions!r}")
    if corridor_id is not None:
        spans = [s for s in spans if s.corridor.id == corridor_id]
        if not spans:
            raise UnknownCorridorError(_unknown(store, corridor_id, versions))
    n = store.coverage.count_footprints(start, end)
    if n > max_footprints:
        raise CoverageError(f"{n:,} camera footprints in the window; at most {max_footprints:,} per request: "
                            "narrow the window")
    footprints = store.coverage.footprints_between(start, end, limit=max_footprints)
    return CoverageReport(start, end, versions, tuple(sorted({f.camera for f in footprints})), len(footprints),
                          tuple(corridor_coverage(spans, footprints)))


def _unknown(store: CoverageStore, corridor_id: str, versions: Versions) -> str:
    stored = {c.id for c, _, _ in store.corridors.versions()}
    if corridor_id not in stored:
        return f"no corridor {corridor_id!r} is stored"
    if versions == "current":
        return (f"corridor {corridor_id!r} is not in force (deleted); its coverage while it was: "
                "versions=history")
    return f"corridor {corridor_id!r} was not in force in the window"


def _t(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def table_lines(report: CoverageReport) -> list[str]:
    """The report as plain text: a line per corridor, then its covered intervals and gaps."""
    cams = ", ".join(report.cameras) or "none"
    lines = [f"coverage {_t(report.start)} .. {_t(report.end)}: {report.footprints} footprint row(s) of camera(s) "
             f"{cams}; corridors {'in force now' if report.versions == 'current' else 'as they were in force'}"]
    if not report.corridors:
        lines.append("no corridors")
        return lines
    width = max(8, *(len(c.corridor.id) for c in report.corridors))
    lines.append(f"{'corridor':{width}}  {'measure':7}  {'in force':>10}  {'covered':>18}  {'mean':>6}  {'ever':>6}")
    for c in report.corridors:
        share = c.covered_s / c.in_force_s if c.in_force_s > 0 else 0.0
        lines.append(f"{c.corridor.id:{width}}  {c.measure:7}  {c.in_force_s:>9.1f}s  "
                     f"{c.covered_s:>9.1f}s ({share:>5.1%})  {c.mean_fraction:>6.1%}  {c.ever_fraction:>6.1%}")
        rows = [(i.start, f"  covered {_t(i.start)} .. {_t(i.end)} ({(i.end - i.start).total_seconds():.1f} s) "
                          f"{i.fraction:.1%} by {', '.join(i.cameras)}") for i in c.intervals]
        rows += [(g.start, f"  gap     {_t(g.start)} .. {_t(g.end)} ({(g.end - g.start).total_seconds():.1f} s)")
                 for g in c.gaps]
        lines.extend(text for _, text in sorted(rows, key=lambda r: r[0]))
    return lines
