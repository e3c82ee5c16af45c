"""A camera's recent frames with their tracked boxes, bounded by count and age, shared between threads.

The camera thread puts each processed frame that has tracks; the store side looks up the frame of
an alert's track when the alert opens (see `cameras.snapshots`). Frames are never copied: callers must not
change an image after putting it (frames from `ingest.video` are read-only arrays).
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from routewatch.model import Box
from routewatch.recording.evidence import Image

BEHIND_RESET = 3  # frames in a row far behind the newest that make it the outlier


@dataclass(frozen=True, slots=True)
class CachedFrame:
    """One processed frame, its event time and the boxes of the tracks seen in it."""

    time: datetime
    image: Image
    boxes: tuple[Box, ...]

    def box(self, track: str) -> Box | None:
        """The box of `track` in this frame, or None."""
        return next((b for b in self.boxes if b.track == track), None)


class FrameCache:
    """The newest frames that have tracks: at most `max_frames` and `max_bytes` of images, none older than
    `max_age` before the newest (the newest frame is always kept).

    Thread-safe: one thread puts, others find.
    """

    def __init__(self, max_frames: int, max_age: timedelta, max_bytes: int = 256 * 2**20) -> None:
        if max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {max_frames}")
        if max_age <= timedelta(0):
            raise ValueError(f"max_age must be positive, got {max_age}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
        self.max_frames, self.max_age, self.max_bytes = max_frames, max_age, max_bytes
        self._frames: deque[CachedFrame] = deque()
        self._bytes = 0
        self._behind = 0
        self._lock = threading.Lock()
        self.evicted = 0

    @property
    def nbytes(self) -> int:
        """Memory held by the cached images."""
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def put(self, frame: CachedFrame) -> None:
        """Keep a frame (one without boxes is not kept: it cannot be evidence); evict beyond the bounds."""
        if frame.time.utcoffset() is None:
            raise ValueError(f"frame time must be tz-aware, got {frame.time!r}")
        if not frame.boxes:
            return
        with self._lock:
            frames = self._frames
            if frames and frame.time < frames[-1].time - self.max_age:
                # Far behind the newest: one late frame is dropped, but several in a row mean the newest
                # was stamped in the future (or the clock stepped back), and keeping it would turn every
                # frame from now on away; then the frames after this one go instead.
                self._behind += 1
                if self._behind < BEHIND_RESET:
                    self.evicted += 1
                    return
                while frames and frame.time < frames[-1].time:
                    self._bytes -= frames.pop().image.nbytes
                    self.evicted += 1
            self._behind = 0
            if frames and frame.time < frames[-1].time:  # a small step back: keep time order
                frames.insert(bisect.bisect_right(frames, frame.time, key=lambda f: f.time), frame)
            else:
                frames.append(frame)
            self._bytes += frame.image.nbytes
            oldest_kept = frames[-1].time - self.max_age
            while len(frames) > 1 and (len(frames) > self.max_frames or frames[0].time < oldest_kept
                                       or self._bytes > self.max_bytes):
                self._bytes -= frames.popleft().image.nbytes
                self.evicted += 1

    def find(self, track: str, at: datetime) -> tuple[CachedFrame, Box] | None:
        """The newest cached frame at or before `at` in which `track` was seen, with its box.

        When those frames are gone (the alert was confirmed long after it began), the oldest cached
        frame of the track after `at`: later evidence, with its own time, beats none. None if neither.
        """
        later: tuple[CachedFrame, Box] | None = None
        with self._lock:
            for frame in reversed(self._frames):
                box = frame.box(track)
                if box is None:
                    continue
                if frame.time <= at:
                    return frame, box
                later = frame, box
        return later

    def hurry(self, since: datetime) -> bool:
        """True when frames from `since` on are half-way to eviction: work that needs them should run now."""
        with self._lock:
            frames = self._frames
            if not frames:
                return False
            if frames[-1].time - since >= self.max_age / 2:
                return True
            newer = 0
            for frame in reversed(frames):
                if frame.time < since:
                    break
                newer += 1
            return newer >= max(1, self.max_frames // 2)
