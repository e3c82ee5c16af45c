"""Telemetry sources in threads: tlog files replayed (nothing dropped) and live MAVLink links (offered)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from routewatch.cameras.livepose import PoseFeed
from routewatch.config.sources import SourceConfig
from routewatch.ingest.handoff import Batcher, Delivery, Handoff
from routewatch.ingest.mavlink import MavlinkLink, MavlinkStats, TlogReader
from routewatch.model import TelemetryEvent

log = logging.getLogger(__name__)

FILE_BATCH = 200


@dataclass(slots=True)
class Telemetry:
    """The telemetry sources of a run: every source's counters, the live links' by name, the files still read."""

    stats: list[MavlinkStats] = field(default_factory=list)
    links: dict[str, MavlinkStats] = field(default_factory=dict)  # live MAVLink sources: link quality for operators
    files: int = 0


def start_sources(sources: Sequence[SourceConfig], hand: Handoff, stop: threading.Event, file_done: Callable[[], None],
                  pose_feeds: Mapping[str, PoseFeed]) -> Telemetry:
    """Start a thread per source: tlog files replayed, live links (feeding the pose of drone cameras they name)."""
    out = Telemetry()
    for cfg in sources:
        path = tlog_path(cfg)
        if path is None:
            out.links[cfg.name] = start_link(cfg, hand, stop, pose_feeds.get(cfg.name)).stats
            out.stats.append(out.links[cfg.name])
            continue
        st = MavlinkStats()
        out.stats.append(st)
        out.files += 1
        start_file(path, cfg, st, hand, stop, file_done)
    return out


def tlog_path(cfg: SourceConfig) -> Path | None:
    """The file of a file source, else None."""
    url = cfg.url
    if url.startswith("file:"):
        return Path(url.removeprefix("file:"))
    return Path(url) if url.endswith(".tlog") else None


def start_file(path: Path, cfg: SourceConfig, stats: MavlinkStats, hand: Handoff, stop: threading.Event,
               done: Callable[[], None]) -> None:
    """Replay a tlog in a thread (backpressure: nothing is dropped)."""
    def run() -> None:
        try:
            reader = TlogReader(path, source=cfg.name, stats=stats, realtime=cfg.realtime, speed=cfg.speed,
                                gps_uere_m=cfg.gps_uere_m)
            batch: list[TelemetryEvent] = []
            last = time.monotonic()
            for ev in reader:
                if stop.is_set():
                    return
                batch.append(ev)
                # In realtime replay hand over promptly so alerts show up as they happen.
                if len(batch) >= FILE_BATCH or (cfg.realtime and time.monotonic() - last > 0.1):
                    hand.put(Delivery(tuple(batch)), stop)
                    batch, last = [], time.monotonic()
            if batch:
                hand.put(Delivery(tuple(batch)), stop)
        except OSError as exc:
            log.error("source %s: cannot read %s: %s", cfg.name, path, exc)
        finally:
            done()

    threading.Thread(target=run, name=f"tlog-{cfg.name}", daemon=True).start()


def start_link(cfg: SourceConfig, hand: Handoff, stop: threading.Event, pose: PoseFeed | None = None) -> MavlinkLink:
    """A live MAVLink link in a thread; its events are batched and offered (dropped if the loop lags).

    With `pose`, the link's thread also feeds the live pose tracks of the drone cameras it poses.
    """
    batcher = Batcher(lambda items: hand.offer(Delivery(tuple(items))), stop)  # type: ignore[arg-type]
    link = MavlinkLink(cfg, batcher) if pose is None else MavlinkLink(cfg, pose.wrap(batcher), taps=pose.taps())
    threading.Thread(target=link.run, args=(stop,), name=f"mavlink-{cfg.name}", daemon=True).start()
    return link
