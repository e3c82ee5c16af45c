"""Reading recordings back: which frame of which segment shows a time, and the boxes drawn on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from routewatch.model import Box
from routewatch.recording.boxlog import unpack_boxes
from routewatch.recording.frameindex import from_micros, micros, unpack_micros
from routewatch.store import RecordedSegment

MAX_RANGE_S = 6 * 3600.0


class SegmentReads(Protocol):
    """The segment rows a reader looks up (store.recordings)."""

    def segments(self, camera: str, since: datetime | None = None, until: datetime | None = None, *,
                 blobs: bool = False) -> list[RecordedSegment]:
        """A camera's segments overlapping [since, until], oldest first."""


class RecordingReads(Protocol):
    """What reading recordings back uses: the segment rows."""

    @property
    def recordings(self) -> SegmentReads: ...


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    """One recorded frame: its segment file (relative path), its index in it, its event time and tracked boxes."""

    path: str
    index: int
    time: datetime
    boxes: tuple[Box, ...]


def frames_between(store: RecordingReads, camera: str, since: datetime, until: datetime, *,
                   max_range_s: float = MAX_RANGE_S) -> list[RecordedFrame]:
    """Every recorded frame of `camera` with time in [since, until], oldest first, with its boxes.

    ValueError for a reversed range or one longer than `max_range_s`.
    """
    if until < since:
        raise ValueError(f"time range is reversed: {since.isoformat()} .. {until.isoformat()}")
    if (until - since).total_seconds() > max_range_s:
        raise ValueError(f"time range longer than {max_range_s:.0f} s; ask for less")
    lo, hi = micros(since), micros(until)
    out: list[RecordedFrame] = []
    for seg in store.recordings.segments(camera, since, until, blobs=True):
        out.extend(segment_frames(seg, lo, hi))
    return out


def segment_frames(seg: RecordedSegment, lo: int | None = None, hi: int | None = None) -> list[RecordedFrame]:
    """The frames of one segment (with blobs) whose times, in microseconds, are in [lo, hi]."""
    us = unpack_micros(seg.times)
    boxes = unpack_boxes(seg.boxes)
    if len(boxes) != len(us):
        raise ValueError(f"segment {seg.path}: {len(us)} frame times but boxes for {len(boxes)} frames")
    first = 0 if lo is None else int(np.searchsorted(us, lo, side="left"))
    last = len(us) if hi is None else int(np.searchsorted(us, hi, side="right"))
    return [RecordedFrame(seg.path, i, from_micros(int(us[i])), boxes[i]) for i in range(first, last)]
