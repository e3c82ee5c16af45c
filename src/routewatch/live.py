"""Live runner: one asyncio loop owns the pipeline; sources run in threads and hand over batches."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from routewatch.app import ChangeSink, Summary, Writer, count_opened, new_pipeline, summarize
from routewatch.config.schema import Settings, SourceConfig
from routewatch.ingest.mavlink import MavlinkLink, MavlinkStats, TlogReader
from routewatch.model import Corridor, Observation, TelemetryEvent
from routewatch.store import Store

log = logging.getLogger(__name__)

QUEUE_BATCHES = 256
FILE_BATCH = 200


@dataclass(slots=True)
class LiveCounters:
    """Counters of the live runner itself."""

    batches: int = 0
    events: int = 0
    dropped: int = 0


def _tlog_path(cfg: SourceConfig) -> Path | None:
    url = cfg.url
    if url.startswith("file:"):
        return Path(url.removeprefix("file:"))
    return Path(url) if url.endswith(".tlog") else None


class _Handoff:
    """Thread-side door into the loop's bounded queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Sequence[TelemetryEvent]],
                 counters: LiveCounters) -> None:
        self.loop, self.queue, self.counters = loop, queue, counters

    def offer(self, batch: Sequence[TelemetryEvent]) -> None:
        """Live data: never block the reader; drop (and count) when the loop is behind."""
        self.loop.call_soon_threadsafe(self._put_nowait, batch)

    def _put_nowait(self, batch: Sequence[TelemetryEvent]) -> None:
        try:
            self.queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.counters.dropped += len(batch)

    def put(self, batch: Sequence[TelemetryEvent], stop: threading.Event) -> None:
        """Recorded data: wait for room, so nothing is lost."""
        fut = asyncio.run_coroutine_threadsafe(self.queue.put(batch), self.loop)
        while not stop.is_set():
            try:
                fut.result(timeout=0.2)
                return
            except TimeoutError:
                continue
        fut.cancel()


def _file_thread(path: Path, cfg: SourceConfig, stats: MavlinkStats, hand: _Handoff, stop: threading.Event,
                 done: Callable[[], None]) -> None:
    try:
        reader = TlogReader(path, source=cfg.name, stats=stats, realtime=cfg.realtime, speed=cfg.speed)
        batch: list[TelemetryEvent] = []
        last = time.monotonic()
        for ev in reader:
            if stop.is_set():
                return
            batch.append(ev)
            # In realtime replay hand over promptly so alerts show up as they happen.
            if len(batch) >= FILE_BATCH or (cfg.realtime and time.monotonic() - last > 0.1):
                hand.put(batch, stop)
                batch, last = [], time.monotonic()
        if batch:
            hand.put(batch, stop)
    except OSError as exc:
        log.error("source %s: cannot read %s: %s", cfg.name, path, exc)
    finally:
        done()


def _link_thread(cfg: SourceConfig, hand: _Handoff, stop: threading.Event) -> MavlinkLink:
    link = MavlinkLink(cfg, lambda ev: hand.offer((ev,)))
    threading.Thread(target=link.run, args=(stop,), name=f"mavlink-{cfg.name}", daemon=True).start()
    return link


async def run_live(
    settings: Settings,
    store: Store,
    corridors: Sequence[Corridor],
    *,
    stop: asyncio.Event,
    sinks: Iterable[ChangeSink] = (),
    exit_when_files_done: bool = False,
) -> Summary:
    """Run every configured source until `stop` is set (or, optionally, all file sources end)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Sequence[TelemetryEvent]] = asyncio.Queue(maxsize=QUEUE_BATCHES)
    counters = LiveCounters()
    hand = _Handoff(loop, queue, counters)
    summary = Summary(inputs=[s.url for s in settings.sources])
    pipeline = new_pipeline(corridors, settings)
    writer = Writer(store, settings.store, [count_opened(summary), *sinks])
    db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
    thread_stop = threading.Event()
    stats: list[MavlinkStats] = []
    files_left = 0

    def file_done() -> None:
        nonlocal files_left
        files_left -= 1

    for cfg in settings.sources:
        path = _tlog_path(cfg)
        if path is None:
            stats.append(_link_thread(cfg, hand, thread_stop).stats)
            continue
        st = MavlinkStats()
        stats.append(st)
        files_left += 1
        threading.Thread(target=_file_thread, args=(path, cfg, st, hand, thread_stop,
                         lambda: loop.call_soon_threadsafe(file_done)),
                         name=f"tlog-{cfg.name}", daemon=True).start()
    last_flush = time.monotonic()
    try:
        while not stop.is_set():
            if exit_when_files_done and files_left == 0 and queue.empty():
                break
            try:
                batch = await asyncio.wait_for(queue.get(), timeout=settings.store.flush_s)
            except TimeoutError:
                batch = ()
            if batch:
                counters.batches += 1
                counters.events += len(batch)
                obs = [e for e in batch if isinstance(e, Observation)]
                summary.add_positions(obs)
                changes = pipeline.feed_many(batch)
                writer_changes, writer_obs = changes, obs
                await loop.run_in_executor(db, writer.add, writer_changes, writer_obs)
                # Alerts are committed before anyone hears of them, and promptly.
                if changes:
                    await loop.run_in_executor(db, writer.flush)
                    last_flush = time.monotonic()
            if time.monotonic() - last_flush >= settings.store.flush_s:
                await loop.run_in_executor(db, writer.flush)
                pipeline.forget_before_watermark()
                last_flush = time.monotonic()
    finally:
        thread_stop.set()
        writer.add(pipeline.finish(), [])
        await loop.run_in_executor(db, writer.flush)
        db.shutdown(wait=True)
    summary.ingest["dropped_behind"] = counters.dropped
    return summarize(summary, pipeline, stats)
