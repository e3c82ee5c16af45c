"""One camera's recording: a bounded queue in front of a writer thread, so detection never waits for the disk.

The vision path calls `put` for every processed frame (its image, time and tracked boxes). With
`wait=False` (`run`) a full queue drops the frame from the recording (counted `record_dropped`),
never blocking detection; with `wait=True` (`analyze`, as fast as the disk allows) it waits.

The writer thread checks the free space before every frame. Below `min_free_bytes`, or on a write
error (ENOSPC, EDQUOT, EACCES, ...), recording of this camera stops: the open segment is closed
if it reads back whole (else removed), an error is logged, `record_stopped` is counted and a
"stopped" recording event is stored. Detection and alerts go on. Every `retry_s` a stopped camera
looks again and resumes (a "resumed" event) once `resume_free_bytes` are free.

This recorder encodes the processed frames (`segments`); `copyrecorder.CopyRecorder` keeps the
source's own video instead (stream copy) on the same queue, thread and stop/resume machinery.
The vision paths call `follow_source` before a file's frames, so a copy recorder knows which file
the next frames come from (an encoding recorder ignores it).
"""

from __future__ import annotations

import errno
import logging
import queue
import shutil
import threading
import time as _time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

from routewatch.config.recording import CameraRecordingConfig, RecordingConfig
from routewatch.model import Box
from routewatch.recording.evidence import Image
from routewatch.recording.segments import FULL_BELOW, OpenVideo, Probe, SegmentWriter, open_cv2, part_path, probe_cv2
from routewatch.store import RecordedSegment, RecordingEvent

log = logging.getLogger(__name__)

MAX_PENDING_ROWS = 1000
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class RecordingStore(Protocol):
    """What a recorder writes to (store.recordings)."""

    def put_segment(self, seg: RecordedSegment) -> int:
        """Store a closed segment."""

    def add_event(self, event: RecordingEvent) -> None:
        """Store a recording event."""


class FrameRecorder(Protocol):
    """What the vision paths hand each processed frame to."""

    def put(self, time: datetime, image: Image, boxes: tuple[Box, ...]) -> None:
        """Record one processed frame with its tracked boxes."""


@dataclass(frozen=True, slots=True)
class FileSource:
    """A video file the next frames come from, and its first frame's time (`iter_file`'s start)."""

    path: Path
    start: datetime


def follow_source(record: FrameRecorder | None, path: Path, start: datetime) -> None:
    """Tell a recorder which video file the next frames come from (for stream copy), if it asks."""
    follow = getattr(record, "follow", None)
    if follow is not None:
        follow(FileSource(path, start))


@dataclass(frozen=True, slots=True)
class _Item:
    time: datetime
    image: Image
    boxes: tuple[Box, ...]
    source: FileSource | None = None  # the first frame of a new file


class DiskFullError(OSError):
    """Free space below the configured minimum (raised before the disk is actually full)."""


def free_bytes(path: Path) -> int:
    """Free bytes for unprivileged writers on the file system of `path` (its nearest existing parent)."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


class CameraRecorder:
    """Records one camera's processed frames; counters in `counts` (written by the writer thread only)."""

    def __init__(self, camera: str, cfg: CameraRecordingConfig, disk: RecordingConfig, store: RecordingStore, *,
                 fps: float, wait: bool = False, open_video: OpenVideo = open_cv2, probe: Probe = probe_cv2,
                 free: Callable[[Path], int] = free_bytes, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = _time.monotonic) -> None:
        self.camera, self.cfg, self.disk, self.store, self.wait = camera, cfg, disk, store, wait
        self.writer = SegmentWriter(disk.dir, camera, codec=cfg.codec, fps=fps, segment_s=cfg.segment_s,
                                    open_video=open_video, probe=probe, free=free,
                                    full_below=max(disk.min_free_bytes, FULL_BELOW), clock=clock)
        self.free, self.clock, self.monotonic = free, clock, monotonic
        self.counts: Counter[str] = Counter()
        self.stopped = False
        self._retry_at = 0.0
        self._pending: list[RecordedSegment] = []  # closed segments whose rows the store refused (yet)
        self._queue: queue.Queue[_Item | None] = queue.Queue(cfg.queue_frames)
        self._lock = threading.Lock()
        self._closed = False
        self._source: FileSource | None = None  # announced by `follow`, sent with the next frame queued
        self._thread = threading.Thread(target=self._main, name=f"record-{camera}", daemon=True)
        self._thread.start()

    def follow(self, source: FileSource) -> None:
        """The next frames come from this video file (see `follow_source`)."""
        with self._lock:
            self._source = source

    def put(self, time: datetime, image: Image, boxes: tuple[Box, ...]) -> None:
        """Queue a frame for recording (see the module doc for when it waits or drops)."""
        if self._closed:
            return
        with self._lock:
            source = self._source
        item = _Item(time, image, boxes, source)
        if self.wait:
            self._queue.put(item)
        else:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                with self._lock:
                    self.counts["record_dropped"] += 1
                return  # the source goes with the next frame queued
        if source is not None:
            with self._lock:
                if self._source is source:
                    self._source = None

    def active(self) -> set[str]:
        """Relative paths the retention sweep must leave alone: the open segment (its final and its `.part`
        name) and those awaiting their row."""
        with self._lock:
            out = {s.path for s in self._pending} | self._active_extra()
            if self.writer.active is not None:
                out.add(self.writer.active)
            return out | {str(PurePosixPath(part_path(Path(p)))) for p in out}

    def _active_extra(self) -> set[str]:
        """More paths to leave alone (called with the lock held)."""
        return set()

    def counters(self) -> dict[str, int]:
        """A copy of the counters, and `recording_stopped_now` (1 while stopped)."""
        with self._lock:
            return {**self.counts, "record_stopped_now": int(self.stopped)}

    def drain(self) -> None:
        """Wait until every frame queued so far has been written (or skipped)."""
        self._queue.join()

    def close(self) -> None:
        """Record what is queued, close the open segment, store its row; wait for the writer thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    # -- writer thread -----------------------------------------------------------------

    def _main(self) -> None:
        self._run()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.task_done()
                break
            try:
                self._write(item)
            except Exception:  # a bug here must not kill recording silently, nor reach the vision path
                log.exception("camera %s: recording failed", self.camera)
                self._count("record_errors")
                self._abort()
            finally:
                self._queue.task_done()
        self._end()

    def _end(self) -> None:
        """After the last frame: close the open segment, store what is left."""
        if not self.stopped:
            try:
                self._close_open()
            except OSError as exc:
                self._stop(exc)
        self._after_close()
        self._flush_pending()
        if self._pending:
            log.error("camera %s: %d recorded segment(s) have no database row (their files are removed by "
                      "retention as orphans)", self.camera, len(self._pending))

    def _write(self, item: _Item) -> None:
        if self.stopped and not self._resume():
            self._count("record_skipped")
            return
        try:
            self._check_free()
            closed = self.writer.add(item.time, item.image, item.boxes)
        except OSError as exc:
            self._stop(exc)
            self._count("record_skipped")
            return
        self._count("recorded_frames")
        self._register(closed)

    def _check_free(self) -> None:
        """DiskFullError when the free space is below `min_free_bytes`."""
        free = self.free(self.disk.dir)
        if free < self.disk.min_free_bytes:
            raise DiskFullError(errno.ENOSPC, f"{free} bytes free, below recording.min_free_bytes "
                                f"({self.disk.min_free_bytes})")

    def _abort(self) -> None:
        """Drop the open segment after an unexpected error."""
        self.writer.abort()

    def _close_open(self) -> None:
        """Close the open segment and register it; OSError when it does not read back whole."""
        self._register(self.writer.close())

    def _after_close(self) -> None:
        """Hook: after the open segment was closed at the end (the copy recorder's rows waiting for boxes)."""

    def _register(self, seg: RecordedSegment | None) -> None:
        if seg is None:
            return
        self._count("segments")
        self._count("segment_bytes", seg.size_bytes)
        with self._lock:
            self._pending.append(seg)
        self._flush_pending()

    def _flush_pending(self) -> None:
        while self._pending:
            seg = self._pending[0]
            try:
                self.store.put_segment(seg)
            except Exception as exc:  # database away: keep it for the next segment (bounded)
                log.error("camera %s: cannot store segment %s (%s); will retry", self.camera, seg.path,
                          type(exc).__name__)
                self._count("segment_row_errors")
                with self._lock:
                    while len(self._pending) > MAX_PENDING_ROWS:
                        self._pending.pop(0)
                        self._count("segment_rows_lost")
                return
            with self._lock:
                self._pending.pop(0)

    def _stop(self, exc: OSError) -> None:
        """Stop recording after `exc`: keep the open segment if it reads back whole, store the event."""
        full = isinstance(exc, DiskFullError) or exc.errno in DISK_FULL
        try:
            self._close_open()
        except OSError as close_exc:
            log.warning("camera %s: the open segment is lost: %s", self.camera, close_exc)
            self._count("segments_lost")
        self.stopped = True
        self._retry_at = self.monotonic() + self.disk.retry_s
        self._count("record_stopped")
        if full:
            self._count("disk_full")
        free = self._free_or_none()
        what = "disk full" if full else "write error"
        reason = f"{what}: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
        log.error("camera %s: recording stopped, %s; detection and alerts go on", self.camera, reason)
        self._event("stopped", reason, free)

    def _resume(self) -> bool:
        if self.monotonic() < self._retry_at:
            return False
        self._retry_at = self.monotonic() + self.disk.retry_s
        free = self._free_or_none()
        if free is None or free < self.disk.resume_free_bytes:
            return False
        self.stopped = False
        log.info("camera %s: recording resumed (%d bytes free)", self.camera, free)
        self._event("resumed", f"{free} bytes free", free)
        return True

    def _free_or_none(self) -> int | None:
        try:
            return self.free(self.disk.dir)
        except OSError:
            return None

    def _event(self, kind: str, reason: str, free: int | None) -> None:
        try:
            self.store.add_event(RecordingEvent(self.camera, self.clock(), kind, reason, free))
        except Exception as exc:  # the log line above already tells the operator
            log.error("camera %s: cannot store the recording event (%s)", self.camera, type(exc).__name__)
            self._count("event_errors")

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n
