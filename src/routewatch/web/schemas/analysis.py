"""Planners' and commanders' analyses: backtest and camera coverage."""

from __future__ import annotations

from pydantic import Field

from routewatch.web.schemas.alerts import AlertOut
from routewatch.web.schemas.base import Out, Time
from routewatch.web.schemas.geojson import FeatureCollection


class BacktestCounts(Out):
    """How many alerts were added, removed and unchanged."""

    added: int
    removed: int
    unchanged: int


class BacktestReport(Out):
    """Alerts the corridors would have opened in the window beside those opened."""

    start: Time = Field(alias="from")
    end: Time = Field(alias="to")
    warmup_s: float
    corridors: list[str]
    observations: int
    observations_per_s: int | None
    elapsed_s: float
    not_evaluated: int
    counts: BacktestCounts
    added: list[AlertOut]
    removed: list[AlertOut]
    unchanged: list[AlertOut]


class CoverageGap(Out):
    """A time in force with no camera looking."""

    start: Time = Field(alias="from")
    end: Time = Field(alias="to")
    seconds: float


class CoverageInterval(CoverageGap):
    """A covered interval: the fraction of the corridor in some footprint, and by which cameras."""

    fraction: float
    cameras: list[str]
    version: int


class CorridorCoverage(Out):
    """One corridor (version): time in force, time covered, fractions, intervals and gaps."""

    id: str
    name: str
    kind: str
    version: int
    measure: str
    in_force_s: float
    covered_s: float
    covered_time_share: float
    mean_fraction: float
    max_fraction: float
    ever_fraction: float
    intervals: list[CoverageInterval]
    gaps: list[CoverageGap]


class CoverageReport(Out):
    """Per corridor the numbers, and `layer`: features with `layer` "covered" or "interval"."""

    start: Time = Field(alias="from")
    end: Time = Field(alias="to")
    versions: str
    cameras: list[str]
    footprints: int
    corridors: list[CorridorCoverage]
    layer: FeatureCollection
    layer_truncated: bool
