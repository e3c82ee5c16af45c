"""Stream-copy recording of one camera: the source's own video kept, the boxes from the processed frames.

The same bounded queue, writer thread, disk checks, stop/resume, events and rows as
`recorder.CameraRecorder` (whose encoding path it falls back to); what differs is where the video
comes from (see `streamcopy`):

- a video file (named by the vision path through `follow_source` before its frames) is opened a
  second time, and its packets are copied as processing gets there: a processed frame at time t
  lets the packets up to t through, so the copy reads nothing ahead of detection and every frame
  has its boxes when its segment closes. When the frames stop (the file or the run ended), the
  packets up to one processing period after the last processed frame go too (frames the vision
  path read and skipped).
- a live stream (`source`, the camera's url) is read by the writer thread over a connection of
  its own, reopened after a drop like `iter_stream` does; processed frames are taken from the
  queue between packets, and a closed segment's row waits until processing has passed its end
  (at most BOX_WAIT_S, in case processing stalls). The copy connects only once the first
  processed frame has come: the recorder starts before the cameras, and a camera that allows a
  single session must give it to detection, not to the copy.

Detection never waits for this: `put` only queues (time, boxes, image) as for encoding.

mode auto falls back to encoding the processed frames (logged) where nothing can be copied: MQTT
frames, a capture device, no PyAV, a codec MP4 cannot hold, a file PyAV cannot open, a stream that
cannot be opened a second time (OPEN_TRIES failed opens in a row while the vision path gets frames
from it: a camera that allows one session; the frames processed meanwhile, up to `queue_frames`,
are encoded too). mode copy refuses the first three at start (ValueError); a codec or a file is
only known at run time, so it is logged as an error, encoded and counted `copy_fallback`; a stream
that does not open OPEN_TRIES times in a row gets a "stopped" recording event (a "resumed" one
when the copy opens again) and is retried on.

Urls reach logs and events only redacted (`redact_url`): a camera url often holds its password.
"""

from __future__ import annotations

import logging
import queue
import time as _time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from routewatch.config.cameras import camera_source
from routewatch.config.recording import CameraRecordingConfig, RecordingConfig
from routewatch.config.redact import redact_url
from routewatch.recording.recorder import CameraRecorder, FileSource, RecordingStore, _Item, free_bytes
from routewatch.recording.segments import FULL_BELOW
from routewatch.recording.streamcopy import (
    BoxTimeline,
    CopiedSegment,
    CopyUnavailable,
    Feed,
    RemuxWriter,
    Source,
    SourcePacket,
    copyable,
    load_av,
)

log = logging.getLogger(__name__)

BOX_WAIT_S = 30.0
IDLE_TICK_S = 0.5
# Failed opens in a row of a live stream's copy connection before mode auto encodes instead (only those
# while the vision path gets frames count: a camera down refuses both, one allowing a single session only
# the copy), and before mode copy stores a "stopped" event. Small: with the reconnect backoff (reopen_s
# doubling) 3 tries take about 7 reopen_s, plus the open timeouts.
OPEN_TRIES = 3


def why_not_copy(source: str | None) -> str | None:
    """Why frames from this camera url cannot be stream-copied, or None when they may be (ValueError: bad url)."""
    kind = camera_source(source) if source is not None else None
    if kind == "mqtt":
        return "its frames come from MQTT as JPEG images, with no encoded stream to copy"
    if kind == "device":
        return "a capture device gives decoded frames, with no encoded stream to copy"
    try:
        load_av()
    except CopyUnavailable as exc:
        return str(exc)
    return None


class CopyRecorder(CameraRecorder):
    """Records a camera by stream copy (mode copy or auto); see the module doc."""

    def __init__(self, camera: str, cfg: CameraRecordingConfig, disk: RecordingConfig, store: RecordingStore, *,
                 fps: float, source: str | None = None, timeout_s: float = 10.0, reopen_s: float = 1.0,
                 reopen_max_s: float = 30.0, open_file: Callable[[Path, datetime], Source] = Source.open_file,
                 open_stream: Callable[[str, float], Source] = Source.open_stream,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC), **kw: Any) -> None:
        reason = why_not_copy(source)
        if reason is not None and cfg.mode == "copy":
            raise CopyUnavailable(f"camera {camera}: recording.mode copy: {reason}")
        if reason is not None:
            log.warning("camera %s: recording.mode auto: %s; the processed frames are encoded (%s)", camera, reason,
                        cfg.codec)
        self.copy_ok = reason is None
        self.stream_url = source if self.copy_ok and source is not None and camera_source(source) == "stream" \
            else None
        self.period = timedelta(seconds=1.0 / fps)
        self.timeline = BoxTimeline(2.0 / fps)
        self.open_file, self.open_stream, self.now = open_file, open_stream, now
        self.timeout_s, self.reopen_s, self.reopen_max_s = timeout_s, reopen_s, reopen_max_s
        self._feed: Feed | None = None
        self._unboxed: list[tuple[CopiedSegment, float]] = []  # closed, with the monotonic time they closed
        self._closing = False
        self._taken = 0  # processed frames the live-stream copy took from the queue (`_take`)
        self._holding = False  # auto, while the stream's copy is not open: keep the frames taken, to encode
        self._held: deque[_Item] = deque(maxlen=cfg.queue_frames)  # bounded as the queue is
        free = kw.get("free", free_bytes)
        self.remux = RemuxWriter(disk.dir, camera, segment_s=cfg.segment_s, count=self._count, free=free,
                                 full_below=max(disk.min_free_bytes, FULL_BELOW),
                                 clock=kw.get("clock", lambda: datetime.now(UTC)))
        self._mono: Callable[[], float] = kw.get("monotonic", _time.monotonic)
        super().__init__(camera, cfg, disk, store, fps=fps, **kw)  # starts the writer thread: everything is set

    def _active_extra(self) -> set[str]:
        out = {seg.rel for seg, _ in self._unboxed}
        if self.remux.active is not None:
            out.add(self.remux.active)
        return out

    # -- writer thread -----------------------------------------------------------------

    def _main(self) -> None:
        if self.stream_url is not None and self._stream(self.stream_url):
            return
        self._encode_held()
        self._run()

    def _encode_held(self) -> None:
        """Encode the frames processed while a stream's copy could not open (mode auto, falling back)."""
        held = list(self._held)
        self._held.clear()
        for item in held:
            try:
                super()._write(item)
            except Exception:  # as in `_run`: a bug here must not kill recording silently
                log.exception("camera %s: recording failed", self.camera)
                self._count("record_errors")
                self._abort()

    def _write(self, item: _Item) -> None:
        if item.source is not None:
            self._switch(item.source)
        if self._feed is None:
            super()._write(item)  # encoding: no file to copy (yet), or it cannot be copied
            return
        self.timeline.add(item.time, item.boxes)
        for pkt in self._feed.until(item.time):
            self._copy(pkt)
        self._finish_ready()

    def _copy(self, pkt: SourcePacket) -> None:
        """Copy one packet, minding the disk (see `recorder` for stop and resume)."""
        if self.stopped and not self._resume():
            self._count("record_skipped")
            return
        try:
            self._check_free()
            closed = self.remux.add(pkt)
        except OSError as exc:
            self._stop(exc)
            self._count("record_skipped")
            return
        self._hold(closed)

    def _hold(self, seg: CopiedSegment | None) -> None:
        if seg is not None:
            with self._lock:
                self._unboxed.append((seg, self._mono()))

    def _switch(self, src: FileSource) -> None:
        """Frames of a new file follow: finish the last file's copy, open this one (or encode its frames)."""
        self._end_feed()
        try:
            self._close_open()
        except OSError as exc:
            self._stop(exc)
        self._finish_ready(force=True)
        self.timeline.clear()
        if not self.copy_ok:
            return
        try:
            source = self.open_file(src.path, src.start)
        except (OSError, ValueError) as exc:
            self._fallback(f"cannot open {src.path} to copy it ({exc})")
            return
        if not copyable(source.info.codec):
            source.close()
            self._fallback(f"{src.path}: its codec {source.info.codec} cannot be copied into MP4")
            return
        self._hold(self.remux.start(source))
        self._feed = Feed(source)
        log.info("camera %s: recording %s by stream copy (%s)", self.camera, src.path, source.info.codec)

    def _fallback(self, reason: str) -> None:
        self._count("copy_fallback")
        say = log.error if self.cfg.mode == "copy" else log.warning
        say("camera %s: %s; the processed frames are encoded (%s) instead", self.camera, reason, self.cfg.codec)

    def _end_feed(self) -> None:
        """Copy the packets up to a processing period after the last processed frame; close the file."""
        feed, self._feed = self._feed, None
        if feed is None:
            return
        try:
            last = self.timeline.progress
            if last is not None:
                for pkt in feed.until(last + self.period):
                    self._copy(pkt)
        finally:
            feed.close()

    def _end(self) -> None:
        try:
            self._end_feed()
        except Exception:  # a bug here must not lose what is already recorded
            log.exception("camera %s: recording failed", self.camera)
            self._count("record_errors")
            self._abort()
        super()._end()

    def _close_open(self) -> None:
        try:
            closed = self.remux.close()
        finally:
            super()._close_open()
        self._hold(closed)

    def _after_close(self) -> None:
        self._finish_ready(force=True)

    def _abort(self) -> None:
        self.remux.abort()
        super()._abort()

    def _finish_ready(self, force: bool = False) -> None:
        """Store the rows of closed segments whose frames' boxes are all known (all of them with `force`)."""
        progress = self.timeline.progress
        now = self._mono()
        for seg, closed_at in list(self._unboxed):
            if force or (progress is not None and progress >= seg.end) or now - closed_at > BOX_WAIT_S:
                self._register(seg.finish(self.camera, self.timeline.boxes_for(seg.times)))
                with self._lock:  # after its row is in (or pending): the sweep never sees it unclaimed
                    self._unboxed.remove((seg, closed_at))
        starts = [seg.start for seg, _ in self._unboxed]
        if self.remux.open_start is not None:
            starts.append(self.remux.open_start)
        if starts:
            self.timeline.forget_before(min(starts))
        elif progress is not None:
            self.timeline.forget_before(progress)

    # -- live streams ------------------------------------------------------------------

    def _stream(self, url: str) -> bool:
        """Copy a live stream until closed (True); False when it cannot be copied (the caller encodes)."""
        shown = redact_url(url)
        auto = self.cfg.mode == "auto"
        self._holding = auto
        self._wait_first_frame()
        delay = self.reopen_s
        failed = refused = 0  # failed opens in a row; those of them while the vision path got frames
        stopped = False  # mode copy: a "stopped" event stored, a "resumed" one owed
        seen = 0  # processed frames taken when the last open began
        while not self._closing:
            served, seen = self._taken > seen, self._taken
            try:
                source = self.open_stream(url, self.timeout_s)
            except (OSError, ValueError) as exc:  # Source.open_stream's text: "cannot open <url redacted>: ..."
                why = _masked(exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc), url)
            else:
                if not copyable(source.info.codec):
                    source.close()
                    self._fallback(f"the stream's codec {source.info.codec} cannot be copied into MP4")
                    return False
                self._holding = False
                self._held.clear()
                if stopped:
                    stopped = False
                    log.info("camera %s: recording resumed, copying %s again", self.camera, shown)
                    self._event("resumed", f"stream copy: {shown} open again", self._free_or_none())
                got = self._copy_stream(source)
                self._holding = auto
                if self._closing:
                    break
                if got:
                    failed = refused = 0
                    self._count("copy_reconnects")
                    log.warning("camera %s: the copied stream %s dropped; reopening in %.1f s", self.camera,
                                shown, self.reopen_s)
                    delay = self.reopen_s
                    self._idle(delay)
                    delay = min(delay * 2, self.reopen_max_s)
                    continue
                why = f"{shown} gave no video"
            failed, refused = failed + 1, refused + served
            self._count("copy_open_failures")
            if auto and refused >= OPEN_TRIES:
                self._fallback(f"stream copy: {why} ({refused} times in a row while the vision path got its "
                               "frames: the camera may allow a single session)")
                return False
            if not auto and failed >= OPEN_TRIES and not stopped:
                stopped = True
                reason = f"stream copy: {why}"
                log.error("camera %s: recording stopped, %s; retrying, detection and alerts go on", self.camera,
                          reason)
                self._event("stopped", reason, self._free_or_none())
            log.warning("camera %s: stream copy: %s; retrying in %.2g s", self.camera, why, delay)
            self._idle(delay)
            delay = min(delay * 2, self.reopen_max_s)
        self._end()
        return True

    def _wait_first_frame(self) -> None:
        """Wait for the first processed frame (or the close): the vision path has connected by then."""
        while not self._closing and self._taken == 0:
            self._take(block_s=IDLE_TICK_S)

    def _copy_stream(self, source: Source) -> bool:
        """Copy packets until the stream ends or the recorder closes; whether any came."""
        got = False
        self._hold(self.remux.start(source))
        try:
            for pkt in source.packets():
                got = True
                self._take(block_s=None)
                if self._closing:
                    break
                try:
                    self._copy(pkt)
                    self._finish_ready()
                except Exception:  # a bug here must not kill recording silently
                    log.exception("camera %s: recording failed", self.camera)
                    self._count("record_errors")
                    self._abort()
        finally:
            source.close()
        if not self.stopped:
            try:
                self._close_open()  # a segment never spans a reconnection
            except OSError as exc:
                self._stop(exc)
        self._finish_ready()
        return got

    def _take(self, block_s: float | None) -> None:
        """Processed frames from the queue into the box timeline (waiting up to `block_s` for the first)."""
        while True:
            try:
                item = self._queue.get(timeout=block_s) if block_s is not None else self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                if item is None:
                    self._closing = True
                else:
                    self._taken += 1
                    self.timeline.add(item.time, item.boxes)
                    if self._holding:
                        self._held.append(item)
            finally:
                self._queue.task_done()
            if item is None:
                return
            block_s = None

    def _idle(self, seconds: float) -> None:
        """Wait `seconds` (or until closed), taking processed frames and storing rows that become ready."""
        end = _time.monotonic() + seconds
        while not self._closing and (left := end - _time.monotonic()) > 0:
            self._take(block_s=min(left, IDLE_TICK_S))
            self._finish_ready()


def _masked(text: str, url: str) -> str:
    """`text` with `url` in it redacted (an injected `open_stream` may not redact its errors)."""
    return text.replace(url, redact_url(url)) if url else text
