"""What a job saw and did: the summary every mode fills, and the sink that counts opened alerts."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from routewatch.ingest.mavlink import MavlinkStats
from routewatch.model import AlertChange, Change, Observation
from routewatch.pipeline.core import Pipeline
from routewatch.store.writer import ChangeSink


@dataclass(slots=True)
class Summary:
    """What an analyze or run job saw and did."""

    inputs: list[str] = field(default_factory=list)
    ingest: Counter[str] = field(default_factory=Counter)
    engine: dict[str, int] = field(default_factory=dict)
    subjects: Counter[str] = field(default_factory=Counter)
    alerts_opened: Counter[str] = field(default_factory=Counter)
    positions: int = 0
    first: str | None = None
    last: str | None = None
    clock_offset_s: dict[str, float] = field(default_factory=dict)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # live MAVLink sources: link quality
    publishers: dict[str, dict[str, int]] = field(default_factory=dict)  # MQTT topics with seq: gaps
    without_mavlink: dict[str, int] = field(default_factory=dict)  # input -> its size: not one message in it
    latest: datetime | None = None  # the latest time in the data so far (positions, received_at of recordings)

    def add_positions(self, obs: Sequence[Observation]) -> None:
        """Count positions and widen the event-time range they cover."""
        if not obs:
            return
        self.positions += len(obs)
        first = min(o.time for o in obs).isoformat()
        last = max(o.time for o in obs).isoformat()
        self.first = min(self.first or first, first)
        self.last = max(self.last or last, last)
        self.saw(max(o.time for o in obs))

    def saw(self, t: datetime) -> None:
        """Move the data's clock on to t (it never goes back)."""
        self.latest = t if self.latest is None else max(self.latest, t)

    def data_clock(self) -> datetime:
        """The time of a batch job: the latest time in its data, never later than the wall clock.

        A batch job's housekeeping ages rows by it: the dead letters of a recording of last month are
        a month old to the month's data, not to today, and are kept for the operator to read; data
        timed in the future (a wrong clock) must not age everything else in the database.
        """
        now = datetime.now(UTC)
        return now if self.latest is None else min(self.latest, now)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "inputs": self.inputs, "ingest": dict(self.ingest), "engine": self.engine,
            "subjects": dict(self.subjects), "alerts_opened": dict(self.alerts_opened),
            "positions": self.positions, "first": self.first, "last": self.last,
            "clock_offset_s": self.clock_offset_s, "links": self.links, "publishers": self.publishers,
        }


def summarize(summary: Summary, pipeline: Pipeline, stats: Iterable[MavlinkStats]) -> Summary:
    """Fill a summary from the pipeline state and ingest counters."""
    for st in stats:
        summary.ingest.update({k: v for k, v in st.as_dict().items() if isinstance(v, int)
                               and k != "recv_buffer_bytes"})  # a size, not a count: see Summary.links
    summary.engine = pipeline.engine.stats.as_dict()
    summary.subjects = Counter(pipeline.subjects.values())
    summary.clock_offset_s = {
        k: round(statistics.median(v), 3) for k, v in pipeline.telemetry.clock_offset_s.items() if v
    }
    return summary


def count_opened(summary: Summary) -> ChangeSink:
    """A sink counting newly opened alerts by kind into the summary."""
    seen: set[str] = set()

    def sink(changes: Sequence[AlertChange]) -> None:
        for ch in changes:
            if ch.change is Change.OPENED and ch.alert.id not in seen:
                seen.add(ch.alert.id)
                summary.alerts_opened[ch.alert.kind.value] += 1

    return sink
