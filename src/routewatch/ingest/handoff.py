"""Thread side of the live runner: sources read in threads and hand `Delivery` batches to the loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from routewatch.cameras.framecache import FrameCache
from routewatch.cameras.livepose import PoseFeed
from routewatch.config.schema import CameraConfig, MqttInputConfig, SourceConfig
from routewatch.ingest.mavlink import MavlinkLink, MavlinkStats, TlogReader
from routewatch.ingest.mqtt.payloads import PixelToGround
from routewatch.ingest.mqtt.sequence import SeqCounter
from routewatch.model import DeadLetter, InboundMessage, TelemetryEvent
from routewatch.outputs.mqtt import Delivery, to_delivery

if TYPE_CHECKING:
    from routewatch.cameras.footprints import CoverageRecorder
    from routewatch.recording.recorder import FrameRecorder

log = logging.getLogger(__name__)

FILE_BATCH = 200
LINK_BATCH, LINK_BATCH_S = 200, 0.05
MQTT_BATCH_S = 0.005
# Live deliveries the loop holds past the queue while it waits on the database (events, not batches).
HELD_EVENTS = 200_000


@dataclass(slots=True)
class HandoffCounters:
    """What crossed from the source threads into the loop, and what was dropped on the way."""

    offered: int = 0
    dropped: int = 0


class Handoff:
    """Thread-side door into the loop's bounded queue.

    The queue bounds what waits in batches, and a live link hands over a batch every LINK_BATCH_S
    whatever its rate: 256 batches were 12.8 s of a link. While the loop awaits the database (a
    slow commit on a busy disk, start-up recovery) nothing takes from the queue, so a longer wait
    dropped a contiguous stretch of live data. Offered batches that find the queue full are held
    here instead, in the loop's thread, up to HELD_EVENTS events; only past that are they dropped,
    counted and logged. `drain` hands over the queue, then what is held, in the order offered.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Delivery],
                 held_events: int = HELD_EVENTS) -> None:
        self.loop, self.queue = loop, queue
        self.counters = HandoffCounters()
        self.held_events = held_events
        self._held: deque[Delivery] = deque()
        self._held_n = 0
        self._dropping = False

    def offer(self, item: Delivery) -> None:
        """Live data that cannot wait: never block the reader; hold it, or past the limit drop (and count) it."""
        try:
            self.loop.call_soon_threadsafe(self._put_nowait, item)
        except RuntimeError:  # the loop has closed: we are shutting down
            self.counters.dropped += len(item.events) + len(item.dead)

    def _put_nowait(self, item: Delivery) -> None:
        if not self._held:  # once holding, everything offered queues behind what is held: order is kept
            try:
                self.queue.put_nowait(item)
                self.counters.offered += len(item.events)
                return
            except asyncio.QueueFull:
                pass
        n = len(item.events) + len(item.dead)
        if self._held_n + n > self.held_events:  # dead letters too: what is lost is counted
            self.counters.dropped += n
            if not self._dropping:
                self._dropping = True
                log.warning("the pipeline is behind: %d events held; live input is being dropped (counted as "
                            "dropped (behind))", self._held_n)
            return
        self._held.append(item)
        self._held_n += n
        self.counters.offered += len(item.events)

    def drain(self) -> list[Delivery]:
        """Everything handed over, without waiting: the queue, then what was held."""
        out = drain(self.queue)
        out.extend(self._held)
        self._held.clear()
        self._held_n = 0
        self._dropping = False
        return out

    def empty(self) -> bool:
        """Nothing handed over waits."""
        return self.queue.empty() and not self._held

    def put(self, item: Delivery, stop: threading.Event) -> bool:
        """Data that must not be lost (files, unacknowledged bus messages): wait for room."""
        try:
            fut = asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop)
        except RuntimeError:
            return False
        while not stop.is_set():
            try:
                fut.result(timeout=0.2)
                return True
            except TimeoutError:
                continue
        fut.cancel()
        return False


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
            reader = TlogReader(path, source=cfg.name, stats=stats, realtime=cfg.realtime, speed=cfg.speed)
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


class Batcher:
    """Collects items from a callback thread and hands them over by count or every LINK_BATCH_S."""

    def __init__(self, emit: Callable[[list[object]], None], stop: threading.Event,
                 period_s: float = LINK_BATCH_S) -> None:
        self.emit, self.stop, self.period_s = emit, stop, period_s
        self._lock = threading.Lock()
        self._emitting = threading.Lock()
        self._buf: list[object] = []
        threading.Thread(target=self._tick, name="batcher", daemon=True).start()

    def __call__(self, item: object) -> None:
        with self._lock:
            self._buf.append(item)
            full = len(self._buf) >= LINK_BATCH
        if full:
            self.flush()

    def flush(self) -> None:
        """Hand over what is collected, batches in the order they were taken.

        The callback thread (a full batch) and the ticker can both flush: without holding one lock
        from taking a batch to handing it over, a later batch could be handed over first, and a
        subject's newer fix would reach the pipeline before its older one (dropped as out of order).
        """
        with self._emitting:
            with self._lock:
                buf, self._buf = self._buf, []
            if buf:
                self.emit(buf)

    def _tick(self) -> None:
        while not self.stop.wait(self.period_s):
            self.flush()
        self.flush()


def start_link(cfg: SourceConfig, hand: Handoff, stop: threading.Event, pose: PoseFeed | None = None) -> MavlinkLink:
    """A live MAVLink link in a thread; its events are batched and offered (dropped if the loop lags).

    With `pose`, the link's thread also feeds the live pose tracks of the drone cameras it poses.
    """
    batcher = Batcher(lambda items: hand.offer(Delivery(tuple(items))), stop)  # type: ignore[arg-type]
    link = MavlinkLink(cfg, batcher) if pose is None else MavlinkLink(cfg, pose.wrap(batcher), taps=pose.taps())
    threading.Thread(target=link.run, args=(stop,), name=f"mavlink-{cfg.name}", daemon=True).start()
    return link


def mqtt_receiver(cfg: MqttInputConfig, hand: Handoff, stop: threading.Event,
                  frames: Callable[[InboundMessage], DeadLetter | None] | None = None,
                  ground: Mapping[str, PixelToGround] | None = None,
                  seqs: SeqCounter | None = None) -> Callable[[InboundMessage], None]:
    """The on_message callback for the MQTT link: messages are parsed in batches and handed over.

    Camera frames go to `frames` (their camera's queue); their acks travel with the batch.

    They are put with backpressure (never dropped): unacknowledged QoS 1 messages stay with the
    broker, which holds them until we ack after the database commit.
    """
    def emit(items: list[object]) -> None:
        msgs = [m for m in items if isinstance(m, InboundMessage)]
        hand.put(to_delivery(msgs, cfg, datetime.now(UTC), frames, ground, seqs), stop)

    # A short period: alert latency from a report to the published alert is what field teams feel.
    return Batcher(emit, stop, period_s=MQTT_BATCH_S)


def start_camera(cam: CameraConfig, hand: Handoff, stop: threading.Event, done: Callable[[], None],
                 cache: FrameCache | None = None, *, record: FrameRecorder | None = None,
                 coverage: CoverageRecorder | None = None) -> Counter[str]:
    """A camera's video file in a thread: moving objects placed on the map, handed over in batches.

    A fixed camera is placed by its calibration, a drone camera by its pose file (as `analyze` does).
    With `realtime`, observations are handed over at the pace of the video's own time (x speed).
    With `cache`, frames with tracks are cached for alert snapshots (see `snapshots`); with `record`,
    processed frames are recorded (see `recording`); with `coverage`, the camera's footprints (see `coverage`).
    """
    from routewatch.cameras.fixed import calibrate, observations

    counts: Counter[str] = Counter()

    def run() -> None:
        try:
            assert cam.url is not None
            path = Path(cam.url.removeprefix("file:"))
            if cam.kind == "drone":
                from routewatch.cameras.drone import DroneVision

                found = DroneVision.for_videos([path], cam).observations(
                    path, counts, cache=cache, record=record,
                    footprints=coverage.drone(cam.name) if coverage is not None else None)
            else:
                calib = calibrate(cam)
                found = observations(path, cam, calib, counts, cache=cache, record=record,
                                     footprints=coverage.fixed(cam.name, calib) if coverage is not None else None)
            t0 = time.monotonic()
            batch: list[TelemetryEvent] = []
            for obs in found:
                if stop.is_set():
                    return
                if cam.realtime and cam.start_time is not None:
                    # Paced from the video's first frame, so it keeps step with telemetry replayed alongside.
                    wait = (obs.time - cam.start_time).total_seconds() / cam.speed - (time.monotonic() - t0)
                    if wait > 0 and stop.wait(wait):
                        return
                batch.append(obs)
                # Hand over before the batch's frames leave the cache, so its alerts can still get snapshots.
                if cam.realtime or len(batch) >= FILE_BATCH or (cache is not None and cache.hurry(batch[0].time)):
                    hand.put(Delivery(tuple(batch)), stop)
                    batch = []
            if batch:
                hand.put(Delivery(tuple(batch)), stop)
        except (OSError, ValueError) as exc:
            log.error("camera %s: %s", cam.name, exc)
        finally:
            done()

    threading.Thread(target=run, name=f"camera-{cam.name}", daemon=True).start()
    return counts


def drain(queue: asyncio.Queue[Delivery]) -> list[Delivery]:
    """Everything already handed over, without waiting."""
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


__all__ = ["Delivery", "Handoff", "drain", "mqtt_receiver", "start_camera", "start_file", "start_link", "tlog_path"]
