"""Reading .tlog files (as fast as possible, or in recorded time) into model events."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from routewatch.ingest.mavlink.decode import DEFAULT_GPS_UERE_M, MavlinkDecoder
from routewatch.ingest.mavlink.frame import MavlinkError, MavlinkStats
from routewatch.model import TelemetryEvent

CHUNK = 256 * 1024


class TlogReader:
    """An iterable over one .tlog's events, with byte progress (bytes_read of bytes_total)."""

    def __init__(self, path: str | os.PathLike[str], source: str, stats: MavlinkStats | None = None, *,
                 realtime: bool = False, speed: float = 1.0, sleep: Callable[[float], object] = time.sleep,
                 chunk_size: int = CHUNK, gps_uere_m: float = DEFAULT_GPS_UERE_M) -> None:
        self.path = Path(path)
        self.source = source
        self.stats = stats if stats is not None else MavlinkStats()
        if speed <= 0:
            raise ValueError(f"replay speed must be positive, got {speed}")
        self.realtime, self.speed, self._sleep = realtime, speed, sleep
        self._chunk = chunk_size
        self.gps_uere_m = gps_uere_m
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise FileNotFoundError(2, "tlog file not found", str(self.path)) from None
        except OSError as e:
            raise MavlinkError(f"cannot read tlog {self.path}: {e.strerror or e}") from e
        if not self.path.is_file():
            raise MavlinkError(f"cannot read tlog {self.path}: not a regular file")
        self.bytes_total = st.st_size
        self.bytes_read = 0

    def __iter__(self) -> Iterator[TelemetryEvent]:
        """Events in file order; in realtime mode paced by record time / speed."""
        decoder = MavlinkDecoder(self.source, self.stats, gps_uere_m=self.gps_uere_m)
        self.bytes_read = 0
        try:
            f = self.path.open("rb")
        except OSError as e:
            raise MavlinkError(f"cannot read tlog {self.path}: {e.strerror or e}") from e
        last: float | None = None
        owed = 0.0
        with f:
            while True:
                data = f.read(self._chunk)
                events = decoder.feed_tlog(data, final=not data)
                self.bytes_read += len(data)
                for ev in events:
                    if self.realtime:
                        t = ev.time.timestamp()
                        if last is not None and t > last:
                            owed += (t - last) / self.speed
                            if owed >= 0.001:  # tiny sleeps cost more than they pace
                                self._sleep(owed)
                                owed = 0.0
                        last = t if last is None or t > last else last
                    yield ev
                if not data:
                    return


def iter_tlog(path: str | os.PathLike[str], source: str, stats: MavlinkStats, *, realtime: bool = False,
              speed: float = 1.0, sleep: Callable[[float], object] = time.sleep) -> Iterator[TelemetryEvent]:
    """Events of a .tlog in file order (FileNotFoundError or MavlinkError at once if unreadable)."""
    return iter(TlogReader(path, source, stats, realtime=realtime, speed=speed, sleep=sleep))


# Leading bytes of files people pass to `analyze` by mistake, and what they are.
_NOT_TLOG: tuple[tuple[Callable[[bytes], bool], str], ...] = (
    (lambda h: h[4:8] == b"ftyp", "a video (MP4/MOV)"),
    (lambda h: h.startswith(b"RIFF") and h[8:12] == b"AVI ", "a video (AVI)"),
    (lambda h: h.startswith(b"\x1a\x45\xdf\xa3"), "a video (Matroska/WebM)"),
    (lambda h: h.startswith(b"\x00\x00\x01\xba"), "a video (MPEG program stream)"),
    (lambda h: len(h) > 376 and h[0] == h[188] == h[376] == 0x47, "a video (MPEG transport stream)"),
    (lambda h: h.lstrip().startswith((b"{", b"[")), "JSON (or JSON lines)"),
    (lambda h: h.startswith(b"\xff\xd8\xff"), "a JPEG image"),
    (lambda h: h.startswith(b"\x89PNG"), "a PNG image"),
)


def not_a_tlog(head: bytes) -> str | None:
    """What a file starting with `head` is if it is plainly not a MAVLink log, else None.

    >>> not_a_tlog(b'{"subject_id": "s1"}'), not_a_tlog(b"\\x00\\x00\\x00\\x18ftypmp42"), not_a_tlog(b"\\xfe\\x09")
    ('JSON (or JSON lines)', 'a video (MP4/MOV)', None)
    """
    return next((what for test, what in _NOT_TLOG if test(head)), None)
