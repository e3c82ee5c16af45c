"""Batch analysis of recorded logs, and the corridors in force for a job (a file installed, or seeded for `run`)."""

from __future__ import annotations

import gc
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from routewatch.app.runtime import Mode, build
from routewatch.app.summary import Summary
from routewatch.config.schema import Settings
from routewatch.geo.corridors import CorridorError, Problem, load_corridors, read_corridor_file, require_some
from routewatch.geo.crs import LocalFrame
from routewatch.ingest.mavlink import MavlinkStats, TlogReader
from routewatch.ingest.mqtt.recordfile import is_recording_file
from routewatch.ingest.mqtt.sequence import SeqCounter
from routewatch.model import Corridor, TelemetryEvent
from routewatch.store import Store
from routewatch.store.writer import ChangeSink

log = logging.getLogger(__name__)
CHUNK = 2000


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
    """Process recorded logs (as fast as possible, or at recorded speed); alerts and positions go to the store.

    Each input is a MAVLink log (.tlog) or an MQTT recording (.jsonl, see routewatch.app.mqttfile), which is
    always read as fast as possible.
    """
    rt = build(settings, store, corridors, Mode.LOGS, inputs=[str(p) for p in inputs], sinks=sinks)
    # The modules and corridors loaded so far outlive the job: keep the cyclic collector from rescanning
    # them while the logs stream through (a sixth of the CPU of analyzing the real flight), until the end.
    gc.freeze()
    try:
        all_stats: list[MavlinkStats] = []
        total = sum(p.stat().st_size for p in inputs)
        done = 0
        seqs = SeqCounter()
        for path in inputs:
            if is_recording_file(path):  # an MQTT recording (.jsonl), else a MAVLink log
                from routewatch.app.mqttfile import feed_recording  # the MQTT parsing (jsonschema) only for those

                feed_recording(rt, path, settings, seqs, progress=_from(progress, done, total))
                done += path.stat().st_size
                continue
            stats = MavlinkStats()
            all_stats.append(stats)
            reader = TlogReader(path, source=path.stem, stats=stats, realtime=realtime, speed=speed)
            chunk: list[TelemetryEvent] = []
            for ev in reader:
                chunk.append(ev)
                if len(chunk) >= CHUNK:
                    rt.feed(chunk)
                    chunk = []
                    if progress is not None:
                        progress(done + reader.bytes_read, total)
            rt.feed(chunk)
            if stats.messages == 0:
                rt.summary.without_mavlink[str(path)] = reader.bytes_total
            done += reader.bytes_total
            if progress is not None:
                progress(done, total)
        rt.finish()
    finally:
        gc.unfreeze()
    if seqs.counts():
        rt.summary.publishers = seqs.counts()
        rt.summary.ingest["mqtt_seq_gaps"] = seqs.gaps
    return rt.summarize(all_stats)


def _from(progress: Callable[[int, int], None] | None, start: int, total: int) -> Callable[[int], None] | None:
    """A progress callback for one input's bytes, reporting to the job's over all inputs."""
    if progress is None:
        return None
    report = progress
    return lambda n: report(start + n, total)
