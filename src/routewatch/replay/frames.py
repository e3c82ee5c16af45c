"""Recorded frames by time: which frame of which segment is shown at a time, decoded by seeking its file.

The web replay API and `routewatch export` read frames through here, and bench/bench_seek.py
measures `locate` + `read_frame` (a seek) against reading the next frame of an open file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from routewatch.recording.boxlog import unpack_boxes
from routewatch.recording.evidence import Image, draw_box, label_for
from routewatch.recording.frameindex import frame_at, from_micros, unpack_micros
from routewatch.recording.read import RecordedFrame, RecordingReads

MAX_HOLD_S = 2.0  # a frame is "shown" for at most this long after its time (beyond: a gap, nothing shown)


class FrameError(OSError):
    """A recorded segment file is missing, outside the recordings directory, or does not decode."""


def locate(store: RecordingReads, camera: str, t: datetime, *, hold_s: float = MAX_HOLD_S) -> RecordedFrame | None:
    """The frame of `camera` shown at `t`: the last one recorded at or before it, if no more than `hold_s` before."""
    for seg in reversed(store.recordings.segments(camera, t - timedelta(seconds=hold_s), t, blobs=True)):
        if seg.start > t:
            continue
        us = unpack_micros(seg.times)
        i = frame_at(us, t)
        if i is None:
            continue
        time = from_micros(int(us[i]))
        if (t - time).total_seconds() > hold_s:
            return None
        return RecordedFrame(seg.path, i, time, unpack_boxes(seg.boxes)[i])
    return None


def segment_file(root: Path, rel: str) -> Path:
    """The file of a segment path (relative to `root`); FrameError if it would lie outside `root`."""
    base = root.resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise FrameError(f"segment path {rel!r} lies outside the recordings directory")
    return path


def _open(root: Path, rel: str) -> cv2.VideoCapture:
    path = segment_file(root, rel)
    if not path.is_file():
        raise FrameError(f"segment file {rel} is missing from {root}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise FrameError(f"segment file {rel} does not open")
    return cap


def read_frame(root: Path, rel: str, index: int) -> Image:
    """Frame `index` of a segment file, decoded by seeking to it; FrameError if it cannot be read."""
    cap = _open(root, rel)
    try:
        if index:
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = cap.read()
    finally:
        cap.release()
    if not ok or image is None:
        raise FrameError(f"frame {index} of segment {rel} does not decode")
    return np.asarray(image, dtype=np.uint8)


def decode_frames(root: Path, frames: Iterable[RecordedFrame]) -> Iterator[tuple[RecordedFrame, Image]]:
    """Each frame (in the given order) with its image: one seek per run of consecutive frames of a file."""
    cap: cv2.VideoCapture | None = None
    path, nxt = "", -1
    try:
        for f in frames:
            if cap is None or f.path != path or f.index != nxt:
                if cap is not None and f.path != path:
                    cap.release()
                    cap = None
                if cap is None:
                    cap, path = _open(root, f.path), f.path
                cap.set(cv2.CAP_PROP_POS_FRAMES, f.index)
            ok, image = cap.read()
            if not ok or image is None:
                raise FrameError(f"frame {f.index} of segment {f.path} does not decode")
            nxt = f.index + 1
            yield f, np.asarray(image, dtype=np.uint8)
    finally:
        if cap is not None:
            cap.release()


def with_boxes(image: Image, frame: RecordedFrame) -> Image:
    """`image` with the frame's stored boxes and labels drawn over it (evidence style)."""
    out = image
    for box in frame.boxes:
        out = draw_box(out, box, label=label_for(box, frame.time))
    return out
