"""Video frames with event times: files (container time + a start time) and live streams (capture time)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded frame; the pixel array is read-only so the value can cross threads safely."""

    camera: str
    index: int
    time: datetime
    image: Image


@dataclass(slots=True)
class VideoStats:
    """What a video source read, skipped and how often it reopened."""

    frames: int = 0
    corrupt: int = 0
    reopens: int = 0
    stale: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def _freeze(img: Image) -> Image:
    img.flags.writeable = False
    return img


def iter_file(path: Path, camera: str, start: datetime, stats: VideoStats | None = None,
              *, max_corrupt: int = 100) -> Iterator[Frame]:
    """Frames of a video file timed by the container (position in ms) plus `start` (tz-aware).

    Decode errors of single frames are skipped and counted; `max_corrupt` in a row ends the file.
    """
    if start.tzinfo is None:
        raise ValueError("start must be tz-aware (UTC)")
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    st = stats or VideoStats()
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise OSError(f"cannot open video {path} (not a video OpenCV/FFmpeg can decode?)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    index = 0
    bad_run = 0
    last_ms = -1.0
    try:
        while True:
            ok = cap.grab()
            if not ok:
                break
            ok, img = cap.retrieve()
            pos_ms = float(cap.get(cv2.CAP_PROP_POS_MSEC))
            if pos_ms <= last_ms and fps > 0:  # some containers repeat or lack timestamps
                pos_ms = last_ms + 1000.0 / fps
            last_ms = pos_ms
            if not ok or img is None or img.size == 0:
                st.corrupt += 1
                bad_run += 1
                if bad_run >= max_corrupt:
                    log.error("%s: %d unreadable frames in a row; giving up", path, bad_run)
                    break
                continue
            bad_run = 0
            st.frames += 1
            yield Frame(camera, index, start + timedelta(milliseconds=pos_ms), _freeze(np.asarray(img, dtype=np.uint8)))
            index += 1
    finally:
        cap.release()


def iter_stream(url: str, camera: str, stats: VideoStats | None = None, *, stop: Callable[[], bool],
                clock: Callable[[], datetime] = lambda: datetime.now(UTC), reopen_s: float = 1.0,
                reopen_max_s: float = 30.0, stale_s: float = 5.0) -> Iterator[Frame]:
    """Frames of a live stream (RTSP, HTTP, device) timed by capture time; reopens with backoff."""
    st = stats or VideoStats()
    delay = reopen_s
    index = 0
    while not stop():
        cap = cv2.VideoCapture(int(url) if url.isdigit() else url)
        if not cap.isOpened():
            st.reopens += 1
            log.warning("camera %s: cannot open %s; retrying in %.1f s", camera, url, delay)
            time.sleep(delay)
            delay = min(delay * 2, reopen_max_s)
            continue
        delay = reopen_s
        last_ok = time.monotonic()
        while not stop():
            ok, img = cap.read()
            now = clock()
            if not ok or img is None:
                if time.monotonic() - last_ok > stale_s:
                    st.stale += 1
                    log.warning("camera %s: no frame for %.0f s; reopening", camera, stale_s)
                    break
                st.corrupt += 1
                continue
            last_ok = time.monotonic()
            st.frames += 1
            yield Frame(camera, index, now, _freeze(np.asarray(img, dtype=np.uint8)))
            index += 1
        cap.release()
        st.reopens += 1
