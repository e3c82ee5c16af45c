"""Video frames with event times: files (container time + a start time) and live streams (capture time)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from routewatch.config.redact import redact_url

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
    """What a video source read and skipped, how often a stream dropped, reopened and went stale.

    Written by the one thread that reads the source; others only read the numbers.
    """

    frames: int = 0
    corrupt: int = 0
    reopens: int = 0
    stale: int = 0
    drops: int = 0
    open_failures: int = 0
    is_stale: bool = False
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


def open_stream(url: str, timeout_s: float) -> cv2.VideoCapture:
    """A capture of a live source: a device number, or an RTSP/HTTP URL through FFmpeg with timeouts.

    The timeouts bound how long opening and each read may block, so a silent stream is noticed.
    """
    if url.isdigit():
        return cv2.VideoCapture(int(url))
    ms = max(1, int(timeout_s * 1000))
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


def iter_stream(url: str, camera: str, stats: VideoStats | None = None, *, stop: threading.Event,
                clock: Callable[[], datetime] = lambda: datetime.now(UTC), reopen_s: float = 1.0,
                reopen_max_s: float = 30.0, stale_s: float = 10.0, max_bad_reads: int = 25) -> Iterator[Frame]:
    """Frames of a live stream (RTSP, HTTP, device) timed by capture time (`clock()` when read).

    A read that fails and is followed by a good one was a corrupt frame: skipped and counted. A
    stream that ends, times out, or fails `max_bad_reads` reads in a row has dropped: it is
    reopened after `reopen_s`, doubling up to `reopen_max_s` while reopening fails or gives no
    frame. With no frame for `stale_s` the camera is stale (counted once per outage, logged,
    `stats.is_stale`). Ends only when `stop` is set.
    """
    st = stats or VideoStats()
    delay = reopen_s
    index = 0
    last_frame = time.monotonic()
    first = True

    def check_stale() -> None:
        if not st.is_stale and time.monotonic() - last_frame > stale_s:
            st.is_stale = True
            st.stale += 1
            log.warning("camera %s: stale: no frame for %.1f s from %s", camera, stale_s, redact_url(url))

    def backoff() -> bool:
        """Wait `delay` (watching for staleness); False if stopped meanwhile."""
        end = time.monotonic() + delay
        while (left := end - time.monotonic()) > 0:
            if stop.wait(min(left, 0.5)):
                return False
            check_stale()
        return True

    while not stop.is_set():
        if not first:
            st.reopens += 1
        first = False
        cap = open_stream(url, stale_s)
        if not cap.isOpened():
            cap.release()
            st.open_failures += 1
            check_stale()
            log.warning("camera %s: cannot open %s; retrying in %.1f s", camera, redact_url(url), delay)
            if not backoff():
                break
            delay = min(delay * 2, reopen_max_s)
            continue
        bad = 0
        got = False
        opened_at = time.monotonic()
        try:
            while not stop.is_set():
                ok, img = cap.read()
                now = clock()
                if ok and img is not None and img.size:
                    st.corrupt += bad
                    bad = 0
                    got = True
                    last_frame = time.monotonic()
                    if st.is_stale:
                        st.is_stale = False
                        log.info("camera %s: frames again from %s", camera, redact_url(url))
                    st.frames += 1
                    yield Frame(camera, index, now, _freeze(np.asarray(img, dtype=np.uint8)))
                    index += 1
                    continue
                bad += 1
                check_stale()
                # Silent for stale_s since the last frame or this open (a stale camera gets a fair try).
                if bad >= max_bad_reads or time.monotonic() - max(last_frame, opened_at) > stale_s:
                    break
        finally:
            cap.release()
        if stop.is_set():
            break
        st.drops += 1
        if got:
            delay = reopen_s
        log.warning("camera %s: stream %s dropped; reopening in %.1f s", camera, redact_url(url), delay)
        if not backoff():
            break
        delay = min(delay * 2, reopen_max_s)
