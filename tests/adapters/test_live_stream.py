"""Live camera streams through OpenCV/FFmpeg from a real HTTP MJPEG server run by the test.

RTSP is not tested: it needs an RTSP server (e.g. mediamtx), which this machine does not have;
OpenCV opens RTSP with the same FFmpeg capture and options as HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from routewatch.cameras.runtime import LiveCamera
from routewatch.config.cameras import CameraConfig
from routewatch.ingest.handoff import Handoff
from routewatch.ingest.video import Frame, VideoStats, iter_stream
from tests.kits.mjpeg import MjpegServer, jpeg, level_frame, level_of

GCPS = [(0.0, 0.0, 10.0, 50.0), (100.0, 0.0, 10.001, 50.0), (100.0, 100.0, 10.001, 49.999),
        (0.0, 100.0, 10.0, 49.999)]
SAFETY_S = 60.0  # only so a broken build fails instead of hanging


def collect(url: str, want: int, stats: VideoStats, **kw: float) -> tuple[list[Frame], list[tuple[datetime, datetime]]]:
    """Read frames from a stream in a thread until `want` arrived; also the clock around each read."""
    stop = threading.Event()
    frames: list[Frame] = []
    stamps: list[datetime] = []

    def clock() -> datetime:
        t = datetime.now(UTC)
        stamps.append(t)
        return t

    def run() -> None:
        for f in iter_stream(url, "cam", stats, stop=stop, clock=clock, **kw):
            frames.append(f)
            if len(frames) >= want:
                stop.set()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(SAFETY_S)
    stop.set()
    th.join(SAFETY_S)
    assert not th.is_alive()
    return frames, stamps


def test_stream_frames_carry_capture_time_and_a_drop_is_reopened_and_reported_stale():
    """30 good frames in two connections; one corrupt frame in the first; 2.5 s of outage between them."""
    levels = [20 + 6 * i for i in range(31)]
    good = [level_frame(v) for v in levels]
    truncated = good[10][: len(good[10]) // 3] + b"\xff\xd9"
    first = [*good[:10], truncated, *good[11:20]]
    second = good[20:30]
    stats = VideoStats()
    with MjpegServer([first, second], fps=30, outage_s=2.5) as cam:
        t0 = datetime.now(UTC)
        frames, stamps = collect(cam.url, 29, stats, stale_s=1.0, reopen_s=0.2, reopen_max_s=0.4)
        t1 = datetime.now(UTC)
        refused = cam.refused
    got = [level_of(f.image) for f in frames]
    assert got == levels[:10] + levels[11:30]  # every good frame, in order; the corrupt one skipped
    assert stats.frames == 29 and stats.corrupt == 1
    assert stats.drops >= 1 and stats.open_failures == refused >= 1
    assert stats.reopens == stats.open_failures + 1  # failed tries, then the one that worked
    assert stats.stale == 1 and not stats.is_stale  # stale during the outage, and no longer
    # Capture time: the clock's reading at each read, so the outage shows as a gap between frames.
    times = [f.time for f in frames]
    assert all(t in stamps for t in times)
    assert t0 <= times[0] and times[-1] <= t1 and times == sorted(times)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert max(gaps) >= 2.5 and gaps.index(max(gaps)) == 18  # between the last of session 1 and the first of 2
    assert [f.index for f in frames] == list(range(29))
    with pytest.raises(ValueError):
        frames[0].image[0, 0, 0] = 1  # read-only across threads


def test_a_silent_stream_is_dropped_by_the_read_timeout_and_reopened():
    """The camera stops sending but keeps the connection open (as RTSP cameras do): the read times out."""
    levels = [40 + 10 * i for i in range(10)]
    stats = VideoStats()
    with MjpegServer([[level_frame(v) for v in levels[:5]], [level_frame(v) for v in levels[5:]]], fps=30,
                     hang_s=8.0) as cam:
        frames, _ = collect(cam.url, 10, stats, stale_s=0.7, reopen_s=0.1, reopen_max_s=0.2)
    assert [level_of(f.image) for f in frames] == levels
    gap = (frames[5].time - frames[4].time).total_seconds()
    assert 0.7 <= gap < 8.0  # the read timeout noticed it, not the server closing the connection
    assert stats.drops == 1 and stats.stale == 1 and stats.reopens == 1 and stats.corrupt == 0


def test_a_stream_that_never_opens_is_retried_with_backoff_and_reported_stale():
    stats = VideoStats()
    stop = threading.Event()
    with MjpegServer([], outage_s=0) as cam:
        th = threading.Thread(target=lambda: list(iter_stream(cam.url, "cam", stats, stop=stop, stale_s=0.5,
                                                             reopen_s=0.1, reopen_max_s=0.4)), daemon=True)
        th.start()
        deadline = time.monotonic() + SAFETY_S
        while stats.open_failures < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        th.join(SAFETY_S)
    assert stats.open_failures >= 5 and stats.frames == 0
    assert stats.stale == 1 and stats.is_stale  # one outage, reported once, still going on
    assert stats.reopens == stats.open_failures - 1 or stats.reopens == stats.open_failures


class _SlowTrack:
    """A processing side slower than the stream: records what it saw and the queue's length meanwhile."""

    def __init__(self, feed_ref: list[LiveCamera], per_frame_s: float) -> None:
        self.feed_ref, self.per_frame_s = feed_ref, per_frame_s
        self.seen: list[int] = []
        self.lengths: list[int] = []

    def __call__(self, frames):
        for f in frames:
            self.lengths.append(len(self.feed_ref[0].queue))
            self.seen.append(level_of(f.image))
            time.sleep(self.per_frame_s)
        yield from ()


def test_a_slow_pipeline_drops_the_oldest_frames_counted_and_memory_stays_bounded():
    n, bound = 120, 4
    levels = [10 + 2 * i for i in range(n)]
    cam_cfg = CameraConfig(name="c", gcps=GCPS, fps=120, queue_frames=bound, url="http://x/", stale_s=0.5)
    loop = asyncio.new_event_loop()  # the handoff is never used: this track yields no observations
    stop = threading.Event()
    feed_ref: list[LiveCamera] = []
    track = _SlowTrack(feed_ref, per_frame_s=0.03)
    feed = LiveCamera(cam_cfg, Handoff(loop, asyncio.Queue()), stop, track)
    feed_ref.append(feed)
    queued: list[int] = []
    put = feed.queue.put

    def record_put(frame):  # what the capture side queued, to compare with what was processed
        queued.append(level_of(frame.image))
        put(frame)

    feed.queue.put = record_put
    with MjpegServer([[level_frame(v) for v in levels]], fps=200) as server:
        capture = threading.Thread(target=feed.capture, args=(server.url,), daemon=True)
        process = threading.Thread(target=feed.process, daemon=True)
        capture.start()
        process.start()
        deadline = time.monotonic() + SAFETY_S
        while (feed.received < n or len(feed.queue)) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        capture.join(SAFETY_S)
        process.join(SAFETY_S)
    loop.close()
    c = feed.counters()
    assert c["received"] == n
    assert c["dropped"] > 0 and c["processed"] < c["queued"]
    assert c["received"] == c["skipped"] + c["queued"]  # fps sampling before the queue
    assert c["queued"] == c["dropped"] + c["processed"]  # nothing lost uncounted
    assert feed.queue.high_water <= bound and max(track.lengths) <= bound
    assert len(queued) == c["queued"] and set(track.seen) <= set(queued)
    assert track.seen == sorted(track.seen) and track.seen[-1] == queued[-1]  # oldest dropped, newest kept


def test_a_corrupt_jpeg_from_the_bus_is_a_counted_dead_letter():
    """Decoding happens in the processing thread; what the header check let through and fails is dead-lettered."""
    from routewatch.ingest.mqtt.frames import JpegFrame

    good = jpeg(np.full((48, 64, 3), 77, np.uint8))
    # Header intact, entropy-coded data replaced: passes the header check, fails to decode or decodes wrong.
    sos = good.index(b"\xff\xda")
    broken = good[:sos] + b"\xff\xd9"
    cam_cfg = CameraConfig(name="c", gcps=GCPS, url="mqtt")
    loop = asyncio.new_event_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    seen: list[int] = []

    def track(frames):
        for f in frames:
            seen.append(level_of(f.image))
        yield from ()

    feed = LiveCamera(cam_cfg, Handoff(loop, queue), stop, track)
    t = datetime(2026, 5, 1, tzinfo=UTC)
    for k, data in enumerate((good, broken, good)):
        feed.offer(JpegFrame("c", t + timedelta(seconds=k), data, 64, 48, "routewatch/v1/frames/c", t))
    feed.queue.close()
    feed.process()
    loop.run_until_complete(asyncio.sleep(0))  # run the handoff's call_soon_threadsafe
    assert seen == [77, 77]
    assert feed.counters()["corrupt"] == 1
    dead = []
    while not queue.empty():
        dead.extend(queue.get_nowait().dead)
    loop.close()
    assert len(dead) == 1 and dead[0].reason.startswith("not a JPEG:") and dead[0].topic.endswith("/c")


def test_a_processing_failure_stops_the_camera_visibly():
    """A bug in the vision path must not leave capture queueing frames for a dead thread."""
    cam_cfg = CameraConfig(name="c", gcps=GCPS, url="mqtt")
    loop = asyncio.new_event_loop()
    stop = threading.Event()

    def track(frames):
        for n, _ in enumerate(frames):
            if n == 1:
                raise RuntimeError("boom")
        yield from ()

    feed = LiveCamera(cam_cfg, Handoff(loop, asyncio.Queue()), stop, track)
    t = datetime(2026, 5, 1, tzinfo=UTC)
    from routewatch.ingest.mqtt.frames import JpegFrame

    good = jpeg(np.full((48, 64, 3), 77, np.uint8))
    for k in range(3):
        feed.offer(JpegFrame("c", t + timedelta(seconds=k), good, 64, 48, "routewatch/v1/frames/c", t))
    feed.process()  # returns: the exception is logged, not raised
    assert feed.failed.is_set() and feed.counters()["failed"] == 1
    queued = feed.queue.put_count
    feed.offer(JpegFrame("c", t + timedelta(seconds=9), good, 64, 48, "routewatch/v1/frames/c", t))
    assert feed.queue.put_count == queued  # nothing more is queued for nobody
    loop.close()
