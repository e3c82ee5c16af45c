"""Live runner: one asyncio loop owns the pipeline; sources run in threads and hand over batches."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from routewatch.app.runtime import Mode, build, recover
from routewatch.app.services import Web, call_soon, listen_for_corridors, start_mqtt, start_web
from routewatch.app.sources import Telemetry, start_sources
from routewatch.app.summary import Summary
from routewatch.cameras.livepose import LivePoseTrack, PoseFeed, live_poses
from routewatch.cameras.runtime import CameraSet, start_cameras
from routewatch.config.schema import Settings
from routewatch.ingest.handoff import Delivery, Handoff
from routewatch.ingest.mqtt.sequence import SeqCounter
from routewatch.model import Corridor, Observation
from routewatch.outputs.mqtt import AlertPublisher
from routewatch.store import Store
from routewatch.store.writer import ChangeSink

log = logging.getLogger(__name__)
_T = TypeVar("_T")

QUEUE_BATCHES = 256
STORE_RETRY_S = 2.0
CORRIDOR_POLL_S = 2.0


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
    return await LiveRunner(settings, store, corridors, stop=stop, sinks=sinks,
                            exit_when_files_done=exit_when_files_done).run()


class LiveRunner:
    """A live run: start the sources, take what they hand over, commit, ack, publish; shut down in order.

    Everything here runs in the loop's thread; the store is called in one worker thread (`db`), so
    commits are serialised and the loop stays free to take what the sources hand over.
    """

    def __init__(self, settings: Settings, store: Store, corridors: Sequence[Corridor], *, stop: asyncio.Event,
                 sinks: Iterable[ChangeSink] = (), exit_when_files_done: bool = False) -> None:
        self.settings, self.store, self.stop, self.exit_when_files_done = settings, store, stop, exit_when_files_done
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=QUEUE_BATCHES)
        self.hand = Handoff(self.loop, self.queue)
        self.rt = build(settings, store, corridors, Mode.LIVE, inputs=[s.url for s in settings.sources], sinks=sinks)
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self.thread_stop = threading.Event()
        self.seqs = SeqCounter()  # MQTT publishers' message counters: gaps are messages a broker dropped
        # What start() starts: the telemetry sources, live drone poses, cameras, MQTT, web and corridor news.
        self.telemetry = Telemetry()
        self.pose_feeds: dict[str, PoseFeed] = {}
        self.pose_tracks: dict[str, LivePoseTrack] = {}
        self.cameras = CameraSet()
        self.mqtt: Any = None
        self.publisher: AlertPublisher | None = None
        self.web: Web | None = None
        self.corridor_news = asyncio.Event()
        self.revision = 0
        self.files_left = 0
        self.store_errors = 0
        self.unacked: list[int] = []  # MQTT tokens of messages taken but not yet stored
        self.last_flush = self.retry_at = self.next_corridor_check = 0.0
        # Lag of the fixes taken since the last flush (wall time when taken minus their newest event time);
        # None: nothing was waiting, so there is no lag, however old the last fix is.
        self.lag_s: float | None = None

    async def run(self) -> Summary:
        """Run until `stop` is set (or, with exit_when_files_done, every file source has ended); the summary."""
        await self.start()
        try:
            while not self.stop.is_set():
                if self.exit_when_files_done and self.files_left == 0 and self.hand.empty():
                    break
                await self.step()
        finally:
            await self.shutdown()
        return self.report()

    async def start(self) -> None:
        """Start the sources, take up the previous run's state, then the cameras, MQTT, web and corridor news."""
        s = self.settings
        # Live drone cameras read their pose from the telemetry of a live link, fed in the link's thread.
        self.pose_feeds, self.pose_tracks = live_poses(s.cameras)
        self.telemetry = start_sources(s.sources, self.hand, self.thread_stop, self._file_done, self.pose_feeds)
        self.files_left += self.telemetry.files
        await self._in_db(recover, self.rt.pipeline, self.store, s.store.recover_s)
        # What start-up built (modules, corridors, recovered state) lives for the whole run: keep the
        # cyclic GC from rescanning it, which otherwise stalls the loop for tens of milliseconds.
        gc.collect()
        gc.freeze()
        snaps, recordings = self.rt.snaps, self.rt.recordings
        assert snaps is not None and recordings is not None
        self.cameras, camera_files = start_cameras(s.cameras, self.hand, self.thread_stop, self._file_done,
                                                   snaps.cache_for, self.pose_tracks, record_for=recordings.for_camera,
                                                   coverage=self.rt.coverage)
        self.files_left += camera_files
        self.mqtt, self.publisher = start_mqtt(s, self.store, self.hand, self.thread_stop, self.cameras, self.seqs)
        self.web = start_web(s, self.store)
        self.corridor_news = listen_for_corridors(self.store, self.loop, self.thread_stop)
        self.revision = await self._in_db(self.store.corridors.revision)

    async def step(self) -> None:
        """Take what was handed over (or wait a flush interval); commit when due; reload changed corridors."""
        try:
            item = await asyncio.wait_for(self.queue.get(), timeout=self.settings.store.flush_s)
        except TimeoutError:
            item = Delivery()
        # Alerts are committed before anyone hears of them, and promptly; whatever queued up
        # meanwhile goes into the same commit, so a busy loop writes bigger batches, not more.
        changed = self.take(item)
        for more in self.hand.drain():
            changed = self.take(more) or changed
        if changed or self.rt.writer.due or time.monotonic() - self.last_flush >= self.settings.store.flush_s:
            await self.flush()
            self.rt.pipeline.forget_before_watermark()
        if time.monotonic() >= self.next_corridor_check or self.corridor_news.is_set():
            self.corridor_news.clear()
            await self.reload_corridors()

    def take(self, item: Delivery) -> bool:
        """Feed a delivery to the pipeline and buffer its rows; True if it changed an alert."""
        obs = [e for e in item.events if isinstance(e, Observation)]
        if obs:
            self.lag_s = max(self.lag_s or 0.0, time.time() - max(o.time for o in obs).timestamp())
        summary = self.rt.summary
        summary.add_positions(obs)
        summary.ingest["dead_letters"] += len(item.dead)
        changes = self.rt.pipeline.feed_many(item.events)
        obs.extend(self.rt.pipeline.take_world_positions())
        self.rt.writer.add(changes, obs, item.dead)
        self.unacked.extend(item.tokens)
        if self.web is not None and obs:
            self.web.hub.publish_positions(obs)
        return bool(changes)

    async def flush(self) -> None:
        """Commit the buffered rows; then ack the MQTT messages they came from and publish the outbox."""
        now = time.monotonic()
        if now < self.retry_at:  # the last try failed in both the database and the journal: back off
            return
        tokens = list(self.unacked)
        self.unacked.clear()
        writer = self.rt.writer
        try:
            in_db = await self._in_db(writer.flush)
        except Exception as exc:  # neither database nor journal took the rows: keep them, ack nothing
            self.unacked[:0] = tokens
            self.store_errors += 1
            self.retry_at = now + STORE_RETRY_S
            log.error("cannot store rows (%s); %d kept in memory for retry", type(exc).__name__, writer.pending)
            return
        self.last_flush = now
        if not in_db:
            self.store_errors += 1
        self._publish_metrics()
        self.lag_s = None
        if self.mqtt is not None:
            for token in tokens:  # stored (or durably spooled): the broker may forget them now
                self.mqtt.ack(token)
        if self.publisher is not None and in_db:
            try:
                await self._in_db(self.publisher.pump)
            except Exception as exc:
                log.error("alert outbox: %s", type(exc).__name__)

    def _publish_metrics(self) -> None:
        """Tell the web API's live hub and metrics what the last flush stored and counted."""
        web = self.web
        if web is None:
            return
        web.hub.publish()
        web.metrics.set_messages_in(self.rt.summary.positions)
        web.metrics.set_dropped(self.hand.counters.dropped)
        for name, counts in self.cameras.by_camera().items():
            web.metrics.set_camera(name, counts)
        web.metrics.set_dead_lettered(self.rt.summary.ingest["dead_letters"])
        for name, st in self.telemetry.links.items():
            web.metrics.set_link(name, st.link_report())
        web.metrics.set_publishers(self.seqs.counts())
        web.metrics.set_pipeline_lag(max(0.0, self.lag_s or 0.0))

    async def reload_corridors(self) -> None:
        """Put a changed corridor set in force (another process saved it); checked every CORRIDOR_POLL_S."""
        self.next_corridor_check = time.monotonic() + CORRIDOR_POLL_S
        try:
            now_rev = await self._in_db(self.store.corridors.revision)
            if now_rev == self.revision:
                return
            current = await self._in_db(self.store.corridors.current)
        except Exception as exc:
            log.error("cannot check corridors: %s", type(exc).__name__)
            return
        self.revision = now_rev
        self.rt.writer.add(self.rt.pipeline.set_corridors(current), [])
        log.info("corridor set changed: %d corridor(s) now in force", len(current))

    async def shutdown(self) -> None:
        """Stop the threads, process and store what they handed over, settle the outbox, close every service."""
        self.thread_stop.set()
        await asyncio.sleep(0.1)  # let the batchers hand over their last items
        for item in self.hand.drain():  # what was handed over is processed, not lost
            self.take(item)
        self.rt.writer.add(self.rt.pipeline.finish(), [])
        self.retry_at = 0.0
        await self.flush()
        if self.rt.writer.pending:
            log.error("%d rows could not be written at shutdown", self.rt.writer.pending)
        if self.publisher is not None:
            try:
                left = await self._in_db(self.publisher.settle)
                if left:
                    log.warning("%d alert publishes not acknowledged at shutdown; they are sent again next start",
                                left)
            except Exception as exc:
                log.error("alert outbox at shutdown: %s", type(exc).__name__)
        if self.mqtt is not None:
            await self._in_db(self.mqtt.stop)
        if self.web is not None:
            self.web.hub.close()
            self.web.server.should_exit = True
            await self.web.task
        for sink in (self.rt.snaps, self.rt.recordings, self.rt.coverage):
            if sink is not None:
                await self._in_db(sink.close)
        self.db.shutdown(wait=True)

    def report(self) -> Summary:
        """The run's summary: the pipeline's, every source's and every sink's counters."""
        rt, ingest = self.rt, self.rt.summary.ingest
        for counts in rt.sink_counts():
            ingest.update(counts)
        ingest["dropped_behind"] = self.hand.counters.dropped
        ingest.update(self.cameras.totals())
        for feed in self.pose_feeds.values():  # live drone poses: other vehicles, invalid gimbal reports, ...
            ingest.update(feed.counts)
        for track in self.pose_tracks.values():
            ingest.update(track.counts)
        ingest["store_errors"] = self.store_errors
        ingest["positions_dropped"] = rt.writer.positions_dropped
        rt.summary.links = {name: st.link_report() for name, st in self.telemetry.links.items()}
        rt.summary.publishers = self.seqs.counts()
        ingest["mqtt_seq_gaps"] = self.seqs.gaps
        ingest["dead_letters_pruned"] = rt.writer.dead_letters_pruned
        return rt.summarize(self.telemetry.stats)

    def _file_done(self) -> None:
        """A file source or recorded camera ended (called from its thread)."""
        call_soon(self.loop, self._one_file_less)

    def _one_file_less(self) -> None:
        self.files_left -= 1

    async def _in_db(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run `fn(*args)` in the store's thread."""
        return await self.loop.run_in_executor(self.db, fn, *args)
