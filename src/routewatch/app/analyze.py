"""Composition root: builds sources, pipeline and store from settings; runs analyze jobs."""

from __future__ import annotations

import gc
import hashlib
import logging
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routewatch.config.schema import Settings
from routewatch.geo.corridors import CorridorError, Problem, load_corridors, read_corridor_file, require_some
from routewatch.geo.crs import LocalFrame
from routewatch.ingest.mavlink import MavlinkStats, TlogReader
from routewatch.model import AlertChange, Change, Corridor, Observation, TelemetryEvent
from routewatch.pipeline.core import Pipeline
from routewatch.store import Store
from routewatch.store.writer import ChangeSink, Writer

log = logging.getLogger(__name__)
CHUNK = 2000


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

    def add_positions(self, obs: Sequence[Observation]) -> None:
        """Count positions and widen the event-time range they cover."""
        if not obs:
            return
        self.positions += len(obs)
        first = min(o.time for o in obs).isoformat()
        last = max(o.time for o in obs).isoformat()
        self.first = min(self.first or first, first)
        self.last = max(self.last or last, last)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "inputs": self.inputs, "ingest": dict(self.ingest), "engine": self.engine,
            "subjects": dict(self.subjects), "alerts_opened": dict(self.alerts_opened),
            "positions": self.positions, "first": self.first, "last": self.last,
            "clock_offset_s": self.clock_offset_s, "links": self.links, "publishers": self.publishers,
        }


def install_corridors(store: Store, path: Path | None, *, author: str, comment: str, at: Any) -> tuple[Corridor, ...]:
    """Save a corridor file as the set in force (new versions where changed); else the stored set."""
    if path is None:
        return store.corridors.current()
    corridors = _checked(require_some(load_corridors(path), str(path)))
    return store.corridors.save(corridors, author=author, comment=comment, at=at)


def seed_corridors(store: Store, path: Path | None, *, file_wins: bool, at: Any) -> tuple[Corridor, ...]:
    """The corridors in force for `run`: corridors.file is imported only if it changed since its last import.

    What planners created, changed or deleted in the database since that import is kept unless
    `file_wins` (see routewatch.store.corridorfile); every change is logged.
    """
    if path is None:
        return _checked(store.corridors.current(), "the corridors in force")
    origin = f"corridors.file {path}"
    try:
        data = read_corridor_file(path)
        corridors = _checked(require_some(load_corridors(data), origin))
    except CorridorError as exc:
        raise CorridorError([Problem(None, None, f"{origin}: {p}") for p in exc.problems]) from None
    done = store.corridors.import_file(str(path.resolve()), hashlib.sha256(data).hexdigest(), corridors,
                                      author="run", comment=f"corridors.file {path.name}", at=at, file_wins=file_wins)
    since = f" since its import at {done.previous_at:%Y-%m-%d %H:%M:%S}Z" if done.previous_at else ""
    if not done.changed:
        log.info("%s unchanged%s: not imported; %d corridor(s) in force from the database", origin, since,
                 len(done.in_force))
        return _checked(done.in_force, f"the corridors in force (the database's and {origin})")
    what = [f"{label} {', '.join(ids)}" for label, ids in
            (("added", done.added), ("updated", done.updated), ("removed", done.removed)) if ids]
    log.info("%s %s%s: %s; %d corridor(s) in force", origin, "changed" if done.previous_at else "imported first",
             since, "; ".join(what) or "nothing to change", len(done.in_force))
    if done.kept:
        log.warning("%s: kept the database's version of %s (created, changed or deleted there since the file's "
                    "last import); set corridors.file_wins: true to take the file's", origin, ", ".join(done.kept))
    # The file fits one frame, but what the database keeps beside it may not (e.g. another region's corridors).
    return _checked(done.in_force, f"the corridors in force (the database's and {origin})")


def _checked(corridors: tuple[Corridor, ...], what: str = "") -> tuple[Corridor, ...]:
    """The corridors, refused if they do not fit one local metric frame."""
    try:
        LocalFrame.around(c.geometry for c in corridors)
    except ValueError as exc:
        raise CorridorError([Problem(None, None, f"{what}: {exc}" if what else str(exc))]) from None
    return corridors


def new_pipeline(corridors: Sequence[Corridor], settings: Settings) -> Pipeline:
    """A pipeline with the engine and alerts sections of the settings."""
    return Pipeline(corridors, settings.engine, settings.alerts)


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


def analyze(
    inputs: Sequence[Path],
    settings: Settings,
    store: Store,
    corridors: Sequence[Corridor],
    *,
    sinks: Iterable[ChangeSink] = (),
    progress: Callable[[int, int], None] | None = None,
    realtime: bool = False,
    speed: float = 1.0,
) -> Summary:
    """Process recorded logs (as fast as possible, or at recorded speed); alerts and positions go to the store."""
    summary = Summary(inputs=[str(p) for p in inputs])
    pipeline = new_pipeline(corridors, settings)
    writer = Writer(store, settings.store, [count_opened(summary), *sinks])
    # The modules and corridors loaded so far outlive the job: keep the cyclic collector from rescanning
    # them while the logs stream through (a sixth of the CPU of analyzing the real flight), until the end.
    gc.freeze()
    try:
        all_stats: list[MavlinkStats] = []
        total = sum(p.stat().st_size for p in inputs)
        done = 0
        for path in inputs:
            stats = MavlinkStats()
            all_stats.append(stats)
            reader = TlogReader(path, source=path.stem, stats=stats, realtime=realtime, speed=speed)
            chunk: list[TelemetryEvent] = []
            for ev in reader:
                chunk.append(ev)
                if len(chunk) >= CHUNK:
                    feed_chunk(pipeline, writer, chunk, summary)
                    chunk = []
                    if progress is not None:
                        progress(done + reader.bytes_read, total)
            feed_chunk(pipeline, writer, chunk, summary)
            if stats.messages == 0:
                summary.without_mavlink[str(path)] = reader.bytes_total
            done += reader.bytes_total
            if progress is not None:
                progress(done, total)
        writer.add(pipeline.finish(), [])
        writer.flush()
    finally:
        gc.unfreeze()
    return summarize(summary, pipeline, all_stats)


def feed_chunk(pipeline: Pipeline, writer: Writer, chunk: Sequence[TelemetryEvent], summary: Summary) -> None:
    """Run a chunk of telemetry through the pipeline and buffer its rows; write when enough is buffered."""
    obs = [e for e in chunk if isinstance(e, Observation)]
    summary.add_positions(obs)
    writer.add(pipeline.feed_many(chunk), obs)
    if writer.due:
        writer.flush()
