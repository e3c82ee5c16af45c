"""Live cameras in `run`: a capture side and a processing thread joined by a bounded, drop-oldest queue.

    stream/device --capture thread--\\
                                     +--> FrameQueue (bounded) --> processing thread --> Handoff --> loop
    MQTT frames ----frame router----/      drops the oldest          decode, vision

The capture side never blocks: it reads a stream at the stream's pace (or takes frames from the
bus), keeps those due at the camera's `fps`, and puts them in the queue; when the queue is full
the oldest frame is dropped and counted. The processing thread decodes (MQTT JPEGs), runs the
vision path and hands each frame's observations to the loop with backpressure, so a slow loop
slows processing, which the queue turns into counted frame drops, never into memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

import cv2
import numpy as np

from routewatch.cameras.footprints import CoverageRecorder
from routewatch.cameras.framecache import FrameCache
from routewatch.cameras.livepose import LivePoseTrack, live_tracker
from routewatch.config.cameras import CameraConfig, camera_source
from routewatch.config.mqtt import MqttInputConfig
from routewatch.ingest.handoff import Delivery, Handoff
from routewatch.ingest.mqtt.frames import FRAMES_PREFIX, JpegFrame, parse_frame
from routewatch.ingest.video import Frame, VideoStats, iter_stream
from routewatch.model import DeadLetter, InboundMessage, Observation, TelemetryEvent
from routewatch.recording.recorder import FrameRecorder
from routewatch.tracking.sampler import Sampler

log = logging.getLogger(__name__)

T = TypeVar("T")
GET_WAIT_S = 0.2
FILE_BATCH = 200


class FrameQueue(Generic[T]):
    """Bounded hand-over from one producer to one consumer thread; when full, `put` drops the OLDEST item.

    Dropping the oldest keeps what is processed as fresh as it can be (an alert about now beats one
    about a frame from seconds ago) and never blocks the producer. At all times
    `put_count == taken + dropped + len(queue)`, and `len(queue) <= maxsize`.

    >>> q = FrameQueue[int](2)
    >>> for i in range(5):
    ...     q.put(i)
    >>> q.get(0), q.get(0), q.get(0), q.dropped
    (3, 4, None, 3)
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.put_count = 0
        self.taken = 0
        self.dropped = 0
        self.high_water = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: T) -> None:
        """Add an item, dropping (and counting) the oldest one if the queue is full; never blocks."""
        with self._cond:
            if self._closed:
                self.put_count += 1
                self.dropped += 1
                return
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.put_count += 1
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify()

    def get(self, timeout: float) -> T | None:
        """The oldest item, waiting up to `timeout` s; None if there is none (yet, or any more)."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if not self._items:
                return None
            self.taken += 1
            return self._items.popleft()

    def close(self) -> None:
        """No more items will come; `get` returns what is left, then None at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def finished(self) -> bool:
        """Closed and empty."""
        with self._cond:
            return self._closed and not self._items


class LiveCamera:
    """One live camera (stream, device or MQTT frames): its queue, its processing thread and its counters."""

    def __init__(self, cam: CameraConfig, hand: Handoff, stop: threading.Event,
                 track: Callable[[Iterator[Frame]], Iterator[TelemetryEvent]]) -> None:
        self.cam, self.hand, self.stop = cam, hand, stop
        self.queue: FrameQueue[Frame | JpegFrame] = FrameQueue(cam.queue_frames)
        self.sampler = Sampler(cam.fps)
        self.video = VideoStats()
        self.received = 0  # frames the capture side got (stream reads, or valid MQTT frames)
        self.undecodable = 0
        self._track = track
        self.vision: Counter[str] = Counter()  # the vision path's own counts (drone cameras: no_pose)
        self._batch: list[TelemetryEvent] = []
        self._index = 0
        self._offer_lock = threading.Lock()  # MQTT frames can arrive from more than one thread
        self.failed = threading.Event()  # the processing thread died: capture stops and releases the stream

    def offer(self, item: Frame | JpegFrame) -> None:
        """From the capture side: queue the frame if it is due at the camera's fps."""
        with self._offer_lock:
            self.received += 1
            if self.sampler.due(item.time) and not self.failed.is_set():
                self.queue.put(item)

    def capture(self, url: str) -> None:
        """Capture thread: read the stream (reopening as needed) until stopped."""
        try:
            for frame in iter_stream(url, self.cam.name, self.video, stop=self.stop, reopen_s=self.cam.reopen_s,
                                     reopen_max_s=self.cam.reopen_max_s, stale_s=self.cam.stale_s):
                if self.failed.is_set():  # nobody processes frames any more: close the stream
                    break
                self.offer(frame)
        except Exception:  # a bug in capture must be loud, and must not hang the processing thread
            log.exception("camera %s: capture failed", self.cam.name)
        finally:
            self.queue.close()

    def process(self) -> None:
        """Processing thread: frames from the queue through the vision path; observations to the loop."""
        try:
            for obs in self._track(self._frames()):
                self._batch.append(obs)
            self._flush()
        except Exception:  # loud and visible (the `failed` counter); capture stops instead of queueing for no one
            self.failed.set()
            self.queue.close()
            log.exception("camera %s: processing failed; the camera is stopped", self.cam.name)

    def counters(self) -> dict[str, int]:
        """Running totals: received, skipped (fps), queued, dropped (queue full), processed, corrupt, ..."""
        return {
            "received": self.received, "skipped": self.sampler.skipped, "queued": self.queue.put_count,
            "dropped": self.queue.dropped, "processed": self.queue.taken,
            "corrupt": self.video.corrupt + self.undecodable, "drops": self.video.drops,
            "reopens": self.video.reopens, "stale": self.video.stale, "stale_now": int(self.video.is_stale),
            "failed": int(self.failed.is_set()),
            **({"no_pose": self.vision["no_pose"]} if self.cam.kind == "drone" else {}),
        }

    def _frames(self) -> Iterator[Frame]:
        while True:
            # Asked for the next frame: the last one's observations are all in the batch.
            self._flush()
            item = self.queue.get(GET_WAIT_S)
            if item is None:
                if self.stop.is_set() or self.queue.finished:
                    return
                continue
            frame = self._decode(item) if isinstance(item, JpegFrame) else item
            if frame is not None:
                yield frame

    def _decode(self, jf: JpegFrame) -> Frame | None:
        # EXIF orientation is ignored: the calibration is in the sensor's pixels, as the header gives them.
        img = cv2.imdecode(np.frombuffer(jf.jpeg, dtype=np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if img is None or img.shape[:2] != (jf.height, jf.width):
            self.undecodable += 1
            reason = ("not a JPEG: the image data cannot be decoded" if img is None else
                      f"not a JPEG: decoded {img.shape[1]} x {img.shape[0]}, header says {jf.width} x {jf.height}")
            self.hand.offer(Delivery(dead=(DeadLetter(jf.topic, reason, "", jf.received_at, len(jf.jpeg)),)))
            return None
        pixels = np.asarray(img, dtype=np.uint8)
        pixels.flags.writeable = False  # read-only: the frame may be looked at from other threads
        self._index += 1
        return Frame(jf.camera, self._index - 1, jf.time, pixels)

    def _flush(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            self.hand.put(Delivery(tuple(batch)), self.stop)


def start_live_camera(cam: CameraConfig, hand: Handoff, stop: threading.Event,
                      cache: FrameCache | None = None, pose: LivePoseTrack | None = None, *,
                      record: FrameRecorder | None = None, coverage: CoverageRecorder | None = None) -> LiveCamera:
    """Start a live camera's threads; CalibrationError (a ValueError) if its calibration is refused.

    A stream or device gets a capture thread; an `mqtt` camera is fed by a `FrameRouter`. With
    `cache`, frames with tracks are cached for alert snapshots. A drone camera is placed from `pose`,
    the live pose track its `drone.pose_source` feeds (ValueError without one).
    """
    from routewatch.cameras.fixed import calibrate, track_frames

    counts: Counter[str] = Counter()
    track: Callable[[Iterator[Frame]], Iterator[Observation]]
    if cam.kind == "drone":
        if pose is None:
            raise ValueError("a live drone camera needs drone.pose_source, a live MAVLink source of its telemetry")
        track = live_tracker(cam, pose, counts, cache,
                             footprints=coverage.drone(cam.name) if coverage is not None else None, record=record)
    else:
        calib = calibrate(cam)
        footprints = coverage.fixed(cam.name, calib) if coverage is not None else None

        def fixed(frames: Iterator[Frame]) -> Iterator[Observation]:
            return track_frames(frames, cam, calib, counts, sample=False, cache=cache, record=record,
                                footprints=footprints)

        track = fixed
    feed = LiveCamera(cam, hand, stop, track)
    feed.vision = counts
    threading.Thread(target=feed.process, name=f"camera-{cam.name}", daemon=True).start()
    if cam.url not in (None, "mqtt"):
        threading.Thread(target=feed.capture, args=(cam.url,), name=f"capture-{cam.name}", daemon=True).start()
    return feed


class FrameRouter:
    """Frames from MQTT to their camera's queue; anything wrong (or for no such camera) becomes a dead letter."""

    def __init__(self, cfg: MqttInputConfig, cameras: dict[str, LiveCamera],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.cfg, self.cameras, self.clock = cfg, cameras, clock

    def __call__(self, msg: InboundMessage) -> DeadLetter | None:
        """Route one message from routewatch/v1/frames/<camera>; a dead letter if it is refused."""
        res = parse_frame(msg, self.cfg, self.cameras.keys(), now=self.clock())
        if isinstance(res, DeadLetter):
            return res
        self.cameras[res.camera].offer(res)
        return None


class CameraSet:
    """The cameras of a run: recorded files (start_camera) and live ones, and their counters."""

    def __init__(self) -> None:
        self.live: dict[str, LiveCamera] = {}
        self.files: dict[str, Counter[str]] = {}

    def router(self, cfg: MqttInputConfig) -> FrameRouter:
        """The MQTT frame router for the cameras with `url: mqtt`."""
        return FrameRouter(cfg, {n: c for n, c in self.live.items() if c.cam.url == "mqtt"})

    def topics(self, subscribed: Collection[str]) -> list[str]:
        """The filter to add for the cameras with `url: mqtt`: routewatch/v1/frames/+, unless frames are subscribed.

        All cameras' frames are subscribed, so a frame for a camera not configured is dead-lettered
        rather than silently never received.
        """
        fed = any(c.cam.url == "mqtt" for c in self.live.values())
        if not fed or any(t.startswith(FRAMES_PREFIX) for t in subscribed):
            return []
        return [f"{FRAMES_PREFIX}+"]

    def by_camera(self) -> dict[str, dict[str, int]]:
        """Each live camera's counters (see LiveCamera.counters)."""
        return {n: c.counters() for n, c in self.live.items()}

    def totals(self) -> Counter[str]:
        """Summary counters over all cameras: camera_<counter> for live ones, camera_file_<counter> for files."""
        out: Counter[str] = Counter()
        for counts in self.by_camera().values():
            out.update({f"camera_{k}": v for k, v in counts.items()})
        for counts in self.files.values():
            out.update({f"camera_file_{k}": v for k, v in counts.items()})
        return out


def start_cameras(cameras: Sequence[CameraConfig], hand: Handoff, stop: threading.Event,
                  file_done: Callable[[], None], cache_for: Callable[[str], FrameCache | None] = lambda _: None,
                  poses: Mapping[str, LivePoseTrack] | None = None, *,
                  record_for: Callable[[str], FrameRecorder | None] = lambda _: None,
                  coverage: CoverageRecorder | None = None) -> tuple[CameraSet, int]:
    """Start every camera with a url; returns them and how many are files (each calls `file_done` at its end).

    A camera whose calibration is refused is logged and skipped; the run goes on with the others.
    Live drone cameras are placed from their track in `poses` (livepose.live_poses).
    """
    out = CameraSet()
    files = 0
    for cam in cameras:
        if cam.url is None:
            log.error("camera %s has no url; skipped", cam.name)
            continue
        if camera_source(cam.url) == "file":
            files += 1
            out.files[cam.name] = start_camera(cam, hand, stop, file_done, cache_for(cam.name),
                                               record=record_for(cam.name), coverage=coverage)
            continue
        try:
            out.live[cam.name] = start_live_camera(cam, hand, stop, cache_for(cam.name), (poses or {}).get(cam.name),
                                                   record=record_for(cam.name), coverage=coverage)
        except ValueError as exc:
            log.error("camera %s: %s; skipped", cam.name, exc)
    return out, files


def start_camera(cam: CameraConfig, hand: Handoff, stop: threading.Event, done: Callable[[], None],
                 cache: FrameCache | None = None, *, record: FrameRecorder | None = None,
                 coverage: CoverageRecorder | None = None) -> Counter[str]:
    """A camera's video file in a thread: moving objects placed on the map, handed over in batches.

    A fixed camera is placed by its calibration, a drone camera by its pose file (as `analyze` does).
    With `realtime`, observations are handed over at the pace of the video's own time (x speed).
    With `cache`, frames with tracks are cached for alert snapshots (see `cameras.snapshots`); with `record`,
    processed frames are recorded (see `recording`); with `coverage`, its footprints (see `cameras.footprints`).
    """
    from routewatch.cameras.files import file_vision

    counts: Counter[str] = Counter()

    def run() -> None:
        try:
            assert cam.url is not None
            path = Path(cam.url.removeprefix("file:"))
            found = file_vision(cam, [path]).with_coverage(coverage).observations(
                path, counts, cache=cache, record=record)
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
