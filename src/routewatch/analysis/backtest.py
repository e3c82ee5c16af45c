"""Backtest: re-run the corridor rules over stored track history and compare with the alerts raised.

A planner's draft corridor set (or the set in force) is applied to the observations stored for a
time window, in event time, by the same pipeline `run` uses. The alerts the draft would have
opened in the window are compared, by id, with those actually opened there. Alert ids depend on
subject, corridor, kind and opening time only, so a backtest of the corridors a run used gives
the same ids as the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from routewatch.config.engine import AlertsConfig, EngineConfig
from routewatch.config.world import WorldConfig
from routewatch.model import Alert, Corridor
from routewatch.pipeline.core import AUTOPILOT_FENCE, WORLD_SOURCE, Pipeline
from routewatch.store import Store
from routewatch.wire import alert_to_dict

MAX_WINDOW = timedelta(days=31)
READ_SLICE = timedelta(hours=1)
MAX_WORKERS = 32
DEFAULT_WARMUP_S = 3600.0
GC_GEN0 = 100_000  # allocations between young collections while replaying (Python's default: 700)


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
    routewatch.analysis.backtest.BacktestError: the window is empty: it starts and ends at 2026-01-01T00:00:00+00:00
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
             progress: Callable[[int, int], None] | None = None, batch: int = 20_000,
             workers: int = 1, collect_less: bool = False, world: WorldConfig | None = None) -> BacktestReport:
    """Re-run the rules (`engine`, `alerts` settings) with `corridors` over the stored fixes of `window`.

    The alerts the rules open in the window are compared with the stored alerts opened there.

    The rules start `warmup_s` before the window so that a subject already inside a corridor at its
    start continues (as it did live) rather than opening a new alert. Alerts opened before the
    window are not compared. The autopilot's own fence breaches come from telemetry that is not
    stored as fixes: they are counted as `not_evaluated`, not compared.

    Rules hold state per subject, so with `workers` > 1 the subjects are shared out among that many
    processes (each reads the window and keeps its share): the same alerts, sooner.

    With `collect_less` (or in worker processes) the garbage collector runs less often meanwhile,
    which saves a third of the time; it is a setting of the whole process, so a server running a
    backtest beside its live pipeline leaves it off.

    With world tracking (`world` enabled) the stored sensor positions are fused again (the stored
    world positions are derived, so never replayed); a world track needs every sensor's fixes, so
    the subjects are not shared out: `workers` must be 1.
    """
    if not 0 <= warmup_s <= 7 * 86400:
        raise BacktestError(f"warm-up must be between 0 and 7 days, got {warmup_s} s")
    if not 1 <= workers <= MAX_WORKERS:
        raise BacktestError(f"workers must be between 1 and {MAX_WORKERS}, got {workers}")
    if workers > 1 and world is not None and world.enabled:
        raise BacktestError("with world tracking a backtest runs in one worker: a world track needs every sensor")
    began = time.perf_counter()
    since = window.start - timedelta(seconds=warmup_s)
    total = store.positions.count_between(since, window.end)
    job = _Job(tuple(corridors), window, since, engine, alerts, batch, collect_less, world)
    if workers == 1 or store.url in ("sqlite://", "sqlite:///:memory:"):
        opened, done = _replay(store, job, None, lambda n: progress(n, total) if progress else None)
    else:  # a worker process is the backtest's own: it always collects less
        job = dataclasses.replace(job, collect_less=True)
        opened, done = _replay_in_processes(store.url, job, workers, total, progress)
    live = store.alerts.find(since=window.start, until=window.end, limit=10_000_000)
    fence = [a for a in live if a.corridor_id == AUTOPILOT_FENCE]
    compared = [a for a in live if a.corridor_id != AUTOPILOT_FENCE]
    return BacktestReport(window=window, warmup_s=warmup_s, corridors=tuple(sorted(c.id for c in corridors)),
                          observations=done, diff=diff_alerts(opened.values(), compared),
                          not_evaluated=len(fence), elapsed_s=time.perf_counter() - began)


@dataclass(frozen=True, slots=True)
class _Job:
    corridors: tuple[Corridor, ...]
    window: Window
    since: datetime
    engine: EngineConfig
    alerts: AlertsConfig
    batch: int
    collect_less: bool
    world: WorldConfig | None = None


def _replay(store: Store, job: _Job, part: tuple[int, int] | None,
            tick: Callable[[int], None]) -> tuple[dict[str, Alert], int]:
    """The rules over the stored fixes (of one share of the subjects): alerts opened in the window."""
    if not job.collect_less:
        return _replay_rules(store, job, part, tick)
    with _fewer_collections():
        return _replay_rules(store, job, part, tick)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect young garbage less often while replaying; restore the thresholds after.

    A replay makes millions of short-lived observations that reference nothing cyclic, while the
    rules' state keeps growing: with the default thresholds the collector rescans that state over
    and over, a third of a backtest's time (bench/bench_backtest.py: 8.8 s against 5.6 s for 2 h).
    """
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], GC_GEN0), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _replay_rules(store: Store, job: _Job, part: tuple[int, int] | None,
                  tick: Callable[[int], None]) -> tuple[dict[str, Alert], int]:
    pipeline = Pipeline(job.corridors, job.engine, job.alerts, job.world)
    opened: dict[str, Alert] = {}
    done = 0
    # Read in slices of event time, each in its own short transaction (a long read would hold
    # SQLite's WAL from being checkpointed while the live pipeline writes).
    start = job.since
    while start < job.window.end:
        stop = min(start + READ_SLICE, job.window.end)
        for chunk in store.positions.stream(start, stop, batch=job.batch, part=part):
            chunk = [o for o in chunk if o.source != WORLD_SOURCE]  # derived: fused again from the sensors
            for change in pipeline.feed_many(chunk):
                if change.alert.opened_at in job.window:
                    opened[change.alert.id] = change.alert
            done += len(chunk)
            tick(done)
        # Long-silent subjects leave memory, by the slices' clock: the same in every share of subjects.
        pipeline.forget_silent_at(stop)
        start = stop
    return opened, done


_progress: Any = None  # a worker process's shared counter (set by its initializer)


def _count_into(counter: Any) -> None:
    global _progress
    _progress = counter


def _worker(url: str, job: _Job, part: tuple[int, int]) -> tuple[dict[str, Alert], int]:
    last = 0

    def tick(done: int) -> None:
        nonlocal last
        with _progress.get_lock():
            _progress.value += done - last
        last = done

    with Store(url) as store:
        return _replay(store, job, part, tick)


def _replay_in_processes(url: str, job: _Job, workers: int, total: int,
                         progress: Callable[[int, int], None] | None) -> tuple[dict[str, Alert], int]:
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("q", 0)
    opened: dict[str, Alert] = {}
    done = 0
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_count_into, initargs=(counter,)) as pool:
        pending = {pool.submit(_worker, url, job, (k, workers)) for k in range(workers)}
        while pending:
            finished, pending = wait(pending, timeout=0.5)
            for f in finished:
                part_opened, part_done = f.result()
                opened.update(part_opened)
                done += part_done
            if progress is not None:
                progress(int(counter.value), total)
    return opened, done
