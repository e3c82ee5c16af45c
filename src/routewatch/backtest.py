"""Backtest: re-run the corridor rules over stored track history and compare with the alerts raised.

A planner's draft corridor set (or the set in force) is applied to the observations stored for a
time window, in event time, by the same pipeline `run` uses. The alerts the draft would have
opened in the window are compared, by id, with those actually opened there. Alert ids depend on
subject, corridor, kind and opening time only, so a backtest of the corridors a run used gives
the same ids as the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from routewatch.codec import alert_to_dict
from routewatch.config.schema import AlertsConfig, EngineConfig
from routewatch.model import Alert, Corridor
from routewatch.pipeline import AUTOPILOT_FENCE, Pipeline
from routewatch.store import Store

MAX_WINDOW = timedelta(days=31)
READ_SLICE = timedelta(hours=1)
DEFAULT_WARMUP_S = 3600.0


class BacktestError(ValueError):
    """The request cannot be run as given (bad window, bad warm-up)."""


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open event-time window [start, end), at most MAX_WINDOW long.

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> Window(t, t)
    Traceback (most recent call last):
    ...
    routewatch.backtest.BacktestError: the window is empty: it starts and ends at 2026-01-01T00:00:00+00:00
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name, t in (("start (from)", self.start), ("end (to)", self.end)):
            if t.tzinfo is None or t.utcoffset() is None:
                raise BacktestError(f"the window's {name} needs a time zone, e.g. 2026-05-01T12:00:00Z")
        if self.end < self.start:
            raise BacktestError(f"the window is reversed: its end ({self.end.isoformat()}) is before its start "
                                f"({self.start.isoformat()})")
        if self.end == self.start:
            raise BacktestError(f"the window is empty: it starts and ends at {self.start.isoformat()}")
        if self.end - self.start > MAX_WINDOW:
            raise BacktestError(f"the window is {self.end - self.start} long; at most {MAX_WINDOW.days} days "
                                "per backtest (split it)")

    def __contains__(self, t: object) -> bool:
        return isinstance(t, datetime) and self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class AlertDiff:
    """Alerts the draft would have opened but were not (added), were opened but would not be (removed), both."""

    added: tuple[Alert, ...]
    removed: tuple[Alert, ...]
    unchanged: tuple[Alert, ...]


def diff_alerts(draft: Iterable[Alert], live: Iterable[Alert]) -> AlertDiff:
    """Compare two sets of alerts by id; each part sorted by (opened_at, id). `unchanged` holds the draft's.

    >>> diff_alerts([], [])
    AlertDiff(added=(), removed=(), unchanged=())
    """
    d = {a.id: a for a in draft}
    lv = {a.id: a for a in live}

    def ordered(ids: Iterable[str], src: dict[str, Alert]) -> tuple[Alert, ...]:
        return tuple(sorted((src[i] for i in ids), key=lambda a: (a.opened_at, a.id)))

    return AlertDiff(added=ordered(d.keys() - lv.keys(), d), removed=ordered(lv.keys() - d.keys(), lv),
                     unchanged=ordered(d.keys() & lv.keys(), d))


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """What a backtest ran over and found."""

    window: Window
    warmup_s: float
    corridors: tuple[str, ...]
    observations: int
    diff: AlertDiff
    not_evaluated: int
    elapsed_s: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (alerts as in `alerts list --json`)."""
        return {
            "from": self.window.start.isoformat(), "to": self.window.end.isoformat(), "warmup_s": self.warmup_s,
            "corridors": list(self.corridors), "observations": self.observations,
            "observations_per_s": round(self.observations / self.elapsed_s) if self.elapsed_s > 0 else None,
            "elapsed_s": round(self.elapsed_s, 3), "not_evaluated": self.not_evaluated,
            "counts": {"added": len(self.diff.added), "removed": len(self.diff.removed),
                       "unchanged": len(self.diff.unchanged)},
            "added": [alert_to_dict(a) for a in self.diff.added],
            "removed": [alert_to_dict(a) for a in self.diff.removed],
            "unchanged": [alert_to_dict(a) for a in self.diff.unchanged],
        }


def backtest(store: Store, corridors: Sequence[Corridor], window: Window, engine: EngineConfig,
             alerts: AlertsConfig, *, warmup_s: float = DEFAULT_WARMUP_S,
             progress: Callable[[int, int], None] | None = None, batch: int = 20_000) -> BacktestReport:
    """Re-run the rules (`engine`, `alerts` settings) with `corridors` over the stored fixes of `window`.

    The alerts the rules open in the window are compared with the stored alerts opened there.

    The rules start `warmup_s` before the window so that a subject already inside a corridor at its
    start continues (as it did live) rather than opening a new alert. Alerts opened before the
    window are not compared. The autopilot's own fence breaches come from telemetry that is not
    stored as fixes: they are counted as `not_evaluated`, not compared.
    """
    if not 0 <= warmup_s <= 7 * 86400:
        raise BacktestError(f"warm-up must be between 0 and 7 days, got {warmup_s} s")
    began = time.perf_counter()
    pipeline = Pipeline(corridors, engine, alerts)
    since = window.start - timedelta(seconds=warmup_s)
    total = store.count_positions_between(since, window.end)
    opened: dict[str, Alert] = {}
    done = 0
    # Read in slices of event time, each in its own short transaction (a long read would hold
    # SQLite's WAL from being checkpointed while the live pipeline writes).
    start = since
    while start < window.end:
        stop = min(start + READ_SLICE, window.end)
        for chunk in store.iter_positions(start, stop, batch=batch):
            for change in pipeline.feed_many(chunk):
                if change.alert.opened_at in window:
                    opened[change.alert.id] = change.alert
            pipeline.forget_before_watermark()  # as `run` does: long-silent subjects leave memory
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        start = stop
    live = store.list_alerts(since=window.start, until=window.end, limit=10_000_000)
    fence = [a for a in live if a.corridor_id == AUTOPILOT_FENCE]
    compared = [a for a in live if a.corridor_id != AUTOPILOT_FENCE]
    return BacktestReport(window=window, warmup_s=warmup_s, corridors=tuple(sorted(c.id for c in corridors)),
                          observations=done, diff=diff_alerts(opened.values(), compared),
                          not_evaluated=len(fence), elapsed_s=time.perf_counter() - began)
