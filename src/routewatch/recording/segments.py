"""Segment files from decoded frames: OpenCV's VideoWriter, one file per `segment_s` of event time.

A segment is written to `<name>.part.<ext>` and renamed into place only once it is closed and
checked (its container reads back with the right frame count), so a file under its final name is
always complete; the database row comes after that (see `recorder`). A new segment starts when
the segment length is reached, when the frame size changes, or when the frame times jump
backwards or forwards by more than GAP_S (a stalled stream): a segment never spans a gap.

Codecs (checked with the opencv-python-headless wheel here: each writes and reads back):
mp4v (MPEG-4 Part 2 in .mp4; ~1 ms a 640x360 frame, the smallest files), MJPG (.avi; ~3x the
bytes), VP80 (.webm; plays in browsers, ~20x the CPU). avc1/H.264 cannot be written by the
wheel (no encoder), hence not offered.

Stream copy (a camera's own encoded stream kept, no re-encoding) is `streamcopy`: PyAV remuxes
the source's packets into MP4 segments (codec 'copy:<codec>') with the same paths, `.part` files
and `RecordedSegment` rows; everything after the writer (rows, boxes, retention) is shared.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Protocol

import cv2
import numpy as np

from routewatch.model import Box
from routewatch.recording.boxlog import pack_boxes
from routewatch.recording.evidence import Image
from routewatch.recording.frameindex import pack_times
from routewatch.store import RecordedSegment

CODECS: dict[str, tuple[str, str]] = {"mp4v": ("mp4v", ".mp4"), "MJPG": ("MJPG", ".avi"), "VP80": ("VP80", ".webm")}
COPY = "copy:"  # codec prefix of stream-copied segments (MP4 files)
GAP_S = 10.0
FULL_BELOW = 1 << 20  # free bytes under which a broken segment is put down to a full disk
PART = ".part"


class VideoSink(Protocol):
    """Where a segment's frames go (OpenCV's VideoWriter, or a test's stand-in)."""

    def write(self, image: Image) -> None:
        """Add one BGR frame."""

    def release(self) -> None:
        """Finish the file."""


OpenVideo = Callable[[Path, str, float, tuple[int, int]], VideoSink]
Probe = Callable[[Path], int]


class SegmentError(OSError):
    """A segment could not be written or did not read back; errno says why when the OS said so."""


def open_cv2(path: Path, codec: str, fps: float, size: tuple[int, int]) -> VideoSink:
    """An OpenCV VideoWriter; SegmentError if it cannot be opened (unknown codec, unwritable directory)."""
    fourcc, _ = CODECS[codec]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        writer.release()
        raise SegmentError(errno.EIO, f"cannot open a {codec} video writer for {path}")
    return writer  # type: ignore[return-value]


def probe_cv2(path: Path) -> int:
    """Frames in a video file by its container's header (no decoding); -1 when it does not open."""
    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else -1
    finally:
        cap.release()


def segment_path(camera: str, start: datetime, codec: str) -> str:
    """The path of a segment relative to the recordings directory: <camera>/<UTC day>/<HHMMSS.ffffff>Z<ext>.

    >>> segment_path("gate", datetime(2026, 5, 1, 3, 0, 13, 250000, tzinfo=UTC), "mp4v")
    'gate/2026-05-01/030013.250000Z.mp4'
    >>> segment_path("gate", datetime(2026, 5, 1, 3, 0, 13, tzinfo=UTC), "copy:h264")
    'gate/2026-05-01/030013.000000Z.mp4'
    """
    if camera in (".", "..") or not camera or "/" in camera or "\\" in camera:
        raise ValueError(f"camera name {camera!r} cannot name a recordings directory")
    t = start.astimezone(UTC)
    ext = ".mp4" if codec.startswith(COPY) else CODECS[codec][1]
    return str(PurePosixPath(camera, f"{t:%Y-%m-%d}", f"{t:%H%M%S.%f}Z{ext}"))


def part_path(final: Path) -> Path:
    """Where a segment is written until it is complete (the extension stays last: it picks the container)."""
    return final.with_name(final.stem + PART + final.suffix)


def is_part(name: str) -> bool:
    """Whether a file name is that of a segment being (or left half) written."""
    return any(name.endswith(PART + ext) for _, ext in CODECS.values())


@dataclass
class _Open:
    rel: str
    final: Path
    part: Path
    sink: VideoSink
    size: tuple[int, int]
    times: list[datetime] = field(default_factory=list)
    boxes: list[tuple[Box, ...]] = field(default_factory=list)


class SegmentWriter:
    """Writes one camera's frames into segment files under `root`; not thread-safe (one writer thread)."""

    def __init__(self, root: Path, camera: str, *, codec: str = "mp4v", fps: float = 5.0, segment_s: float = 60.0,
                 open_video: OpenVideo = open_cv2, probe: Probe = probe_cv2,
                 free: Callable[[Path], int] | None = None, full_below: int = FULL_BELOW,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r}; use one of {sorted(CODECS)}")
        segment_path(camera, datetime(2000, 1, 1, tzinfo=UTC), codec)  # refuses a camera name unfit for a path
        self.root, self.camera, self.codec, self.fps = root, camera, codec, fps
        self.segment = timedelta(seconds=segment_s)
        self.open_video, self.probe, self.clock = open_video, probe, clock
        self.free, self.full_below = free, full_below
        self._cur: _Open | None = None

    @property
    def active(self) -> str | None:
        """Relative final path of the segment being written, if any."""
        return self._cur.rel if self._cur is not None else None

    def add(self, time: datetime, image: Image, boxes: tuple[Box, ...]) -> RecordedSegment | None:
        """Write a frame; return the segment it closed first (its length reached, or a gap), if any."""
        frame = image if image.ndim == 3 else np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
        size = (frame.shape[1], frame.shape[0])
        closed = None
        cur = self._cur
        if cur is not None and (time - cur.times[0] >= self.segment or time < cur.times[-1] or size != cur.size
                                or (time - cur.times[-1]).total_seconds() > GAP_S):
            closed = self.close()
        if self._cur is None:
            self._cur = self._open(time, size)
        self._cur.sink.write(frame)
        self._cur.times.append(time)
        self._cur.boxes.append(boxes)
        return closed

    def _open(self, start: datetime, size: tuple[int, int]) -> _Open:
        rel = segment_path(self.camera, start, self.codec)
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        part = part_path(final)
        return _Open(rel, final, part, self.open_video(part, self.codec, self.fps, size), size)

    def close(self) -> RecordedSegment | None:
        """Finish the open segment: release, check it reads back, rename into place; its record (None if none open).

        SegmentError (the partial file removed) when it does not read back whole.
        """
        cur, self._cur = self._cur, None
        if cur is None:
            return None
        try:
            cur.sink.release()
            got = self.probe(cur.part)
            if got != len(cur.times):
                # OpenCV's writer does not report write errors: a nearly empty disk says what went wrong.
                full = self.free is not None and self.free(cur.part.parent) < self.full_below
                raise SegmentError(errno.ENOSPC if full else errno.EIO,
                                   f"segment {cur.rel} reads back {got} frames of {len(cur.times)} written"
                                   + (" (disk full)" if full else " (the writer failed)"), str(cur.part))
            os.replace(cur.part, cur.final)
        except BaseException:
            with contextlib.suppress(OSError):
                cur.part.unlink()
            raise
        size = cur.final.stat().st_size
        return RecordedSegment(self.camera, cur.rel, cur.times[0], cur.times[-1], len(cur.times), size, self.codec,
                               cur.size[0], cur.size[1], self.clock(), pack_times(cur.times), pack_boxes(cur.boxes))

    def abort(self) -> None:
        """Drop the open segment and its partial file (after a write error)."""
        cur, self._cur = self._cur, None
        if cur is None:
            return
        with contextlib.suppress(Exception):
            cur.sink.release()
        with contextlib.suppress(OSError):
            cur.part.unlink()
