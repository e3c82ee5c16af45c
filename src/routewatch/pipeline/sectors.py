"""A worker's share of the positions when `run` is scaled out by sector. Pure: no I/O, event time only.

Every worker reads every position; each keeps those in its own sector (it stores them and raises
their alerts) and those within its margin (they only move the engine's state), and drops the rest,
counted. A position in no sector belongs to the default sector, so every position is owned by
exactly one worker, and every rule event is raised by the worker owning the fix that caused it.

A subject arriving from another sector brings the last fix this worker saw of it outside the margin:
that fix goes into the engine just before the arrival, so a line crossed between the two is crossed
here even with margin_m 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from routewatch.geo.sectors import SectorMap
from routewatch.model import Observation, TelemetryEvent

# Counters, as the summary and /metrics name them.
OWNED, MARGIN, OUTSIDE, UNSECTORED = "sector_owned", "sector_margin", "sector_outside", "sector_unsectored"


@dataclass(frozen=True, slots=True)
class Admitted:
    """What a worker does with a batch: `events` go to the pipeline, `stored` are the positions it owns."""

    events: tuple[TelemetryEvent, ...]
    stored: tuple[Observation, ...]


@dataclass(slots=True)
class SectorGate:
    """Sorts a worker's input by sector; remembers each outside subject's last fix for a handover.

    `hold_s`: how long a remembered fix can still matter (the engine's cross_max_gap_s).
    """

    sectors: SectorMap
    hold_s: float
    counts: Counter[str] = field(default_factory=Counter)
    _last: dict[str, Observation] = field(default_factory=dict)
    _newest_ts: float = float("-inf")
    _next_prune_ts: float = float("-inf")

    def admit(self, events: Sequence[TelemetryEvent]) -> Admitted:
        """Split a batch: what to feed (in order, handover fixes first), what to store; count every position."""
        obs = [e for e in events if isinstance(e, Observation)]
        if not obs:
            return Admitted(tuple(events), ())
        lon = np.fromiter((o.lon for o in obs), dtype=np.float64, count=len(obs))
        lat = np.fromiter((o.lat for o in obs), dtype=np.float64, count=len(obs))
        owners = iter(self.sectors.owners(lon, lat))
        near = iter(self.sectors.near_mine(lon, lat).tolist())
        own, default = self.sectors.own, self.sectors.default
        feed: list[TelemetryEvent] = []
        stored: list[Observation] = []
        for ev in events:
            if not isinstance(ev, Observation):
                feed.append(ev)  # status, attitude, clock, link, fence: no place of their own
                continue
            who, close = next(owners), next(near)
            mine = who == own or (who is None and default == own)
            if mine or close:
                prev = self._last.pop(ev.subject_id, None)
                if prev is not None and prev.time < ev.time:
                    feed.append(prev)
                feed.append(ev)
                if mine:
                    stored.append(ev)
                    self.counts[OWNED] += 1
                    if who is None:
                        self.counts[UNSECTORED] += 1
                else:
                    self.counts[MARGIN] += 1
            else:
                prev = self._last.get(ev.subject_id)
                if prev is None or prev.time <= ev.time:
                    self._last[ev.subject_id] = ev
                self.counts[OUTSIDE] += 1
        self._newest_ts = max(self._newest_ts, max(o.time for o in obs).timestamp())
        if self._newest_ts >= self._next_prune_ts:
            self.prune()
        return Admitted(tuple(feed), tuple(stored))

    @property
    def stores_shared_dead_letters(self) -> bool:
        """Whether this worker stores the dead letters every worker gets (the default sector's does)."""
        return self.sectors.own == self.sectors.default

    def take_history(self, history: Sequence[Observation]) -> list[Observation]:
        """A restart: the stored fixes to replay (owned or in the margin), uncounted, in time order.

        The latest fix of each subject outside is remembered, as if it had come live, so a subject
        arriving just after the restart still brings the step it arrives by.
        """
        live_counts = Counter(self.counts)
        ordered = sorted(history, key=lambda o: (o.time, o.subject_id))
        feed = [e for e in self.admit(ordered).events if isinstance(e, Observation)]
        self.counts = live_counts
        return feed

    def prune(self) -> int:
        """Forget remembered fixes older than hold_s before the newest event time (bounded memory)."""
        self._next_prune_ts = self._newest_ts + max(1.0, self.hold_s / 10)
        limit = self._newest_ts - self.hold_s
        old = [sid for sid, o in self._last.items() if o.time.timestamp() < limit]
        for sid in old:
            del self._last[sid]
        return len(old)

    @property
    def remembered(self) -> int:
        """Subjects outside the margin whose last fix is kept for a handover."""
        return len(self._last)
