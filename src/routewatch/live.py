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
LINK_BATCH, LINK_BATCH_S = 200, 0.05
STORE_RETRY_S = 2.0


@dataclass(slots=True)
class LiveCounters:
    """Counters of the live runner itself."""

    batches: int = 0
    events: int = 0
    dropped: int = 0
    store_errors: int = 0


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
        try:
            self.loop.call_soon_threadsafe(self._put_nowait, batch)
        except RuntimeError:  # the loop has closed: we are shutting down
            self.counters.dropped += len(batch)

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


class _Batcher:
    """Collects a link's events and hands them over in batches (by count, or every LINK_BATCH_S)."""

    def __init__(self, hand: _Handoff, stop: threading.Event) -> None:
        self.hand, self.stop = hand, stop
        self._lock = threading.Lock()
        self._buf: list[TelemetryEvent] = []
        threading.Thread(target=self._tick, name="link-batcher", daemon=True).start()

    def __call__(self, ev: TelemetryEvent) -> None:
        with self._lock:
            self._buf.append(ev)
            full = len(self._buf) >= LINK_BATCH
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            buf, self._buf = self._buf, []
        if buf:
            self.hand.offer(buf)

    def _tick(self) -> None:
        while not self.stop.wait(LINK_BATCH_S):
            self.flush()
        self.flush()


def _link_thread(cfg: SourceConfig, hand: _Handoff, stop: threading.Event) -> MavlinkLink:
    link = MavlinkLink(cfg, _Batcher(hand, stop))
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
    last_flush = retry_at = 0.0

    def take(batch: Sequence[TelemetryEvent]) -> bool:
        counters.batches += 1
        counters.events += len(batch)
        obs = [e for e in batch if isinstance(e, Observation)]
        summary.add_positions(obs)
        changes = pipeline.feed_many(batch)
        writer.add(changes, obs)
        return bool(changes)

    async def flush() -> None:
        nonlocal last_flush, retry_at
        now = time.monotonic()
        if now < retry_at:
            return
        try:
            await loop.run_in_executor(db, writer.flush)
            last_flush = now
        except Exception as exc:  # the database is down or refusing: keep running, keep the rows
            counters.store_errors += 1
            retry_at = now + STORE_RETRY_S
            log.error("database write failed (%s); %d rows kept for retry", type(exc).__name__, writer.pending)

    try:
        while not stop.is_set():
            if exit_when_files_done and files_left == 0 and queue.empty():
                break
            try:
                batch = await asyncio.wait_for(queue.get(), timeout=settings.store.flush_s)
            except TimeoutError:
                batch = ()
            # Alerts are committed before anyone hears of them, and promptly.
            if (batch and take(batch)) or writer.due or time.monotonic() - last_flush >= settings.store.flush_s:
                await flush()
                pipeline.forget_before_watermark()
    finally:
        thread_stop.set()
        await asyncio.sleep(2 * LINK_BATCH_S)  # let the link batchers hand over their last events
        while not queue.empty():  # what was handed over is processed, not lost
            take(queue.get_nowait())
        writer.add(pipeline.finish(), [])
        retry_at = 0.0
        await flush()
        if writer.pending:
            log.error("%d rows could not be written at shutdown", writer.pending)
        db.shutdown(wait=True)
    summary.ingest["store_errors"] = counters.store_errors
    summary.ingest["positions_dropped"] = writer.positions_dropped
    summary.ingest["dropped_behind"] = counters.dropped
    return summarize(summary, pipeline, stats)
