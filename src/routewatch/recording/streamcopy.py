"""Stream copy: a camera's own encoded video kept in segment files without re-encoding (PyAV remux).

A source (a video file opened a second time, or a second connection to an RTSP/HTTP stream, as
Frigate keeps its record stream) is demuxed into packets, each with the event time of its frame:

- a file: `start` + the packet's presentation time, computed as OpenCV computes a frame's
  position ((pts - stream start) x time base, in ms) so a packet's time is exactly the time the
  vision path gives the same frame (`ingest.video.iter_file`);
- a live stream: the wall clock when the packet is read, as `iter_stream` times frames it reads.

`RemuxWriter` copies the packets (their bytes untouched) into MP4 segment files, cutting only at
keyframes once `segment_s` is reached (or after a gap), so every segment decodes on its own; a
segment starts only at a keyframe that decodes. A segment is written under its `.part` name,
read back (its packets counted by demuxing), and renamed into place.

Timestamps are rewritten to a constant rate in presentation order (frame i at i x step), the way
OpenCV's writer stamps encoded segments: OpenCV seeks to a frame index through pts x fps, so a
frame index is exact in a copied segment too, even from a variable-rate source. The true time of
every frame is in the frame index (`frameindex`), not in the file. B-frames are handled through a
reorder window: decode timestamps trail presentation ones by up to `REORDER` frames.

The vision path processes only sampled frames; `BoxTimeline` keeps their (time, boxes), and each
copied frame gets the boxes of the last processed frame at or before it, if no more than `hold_s`
before (two processing periods: beyond that frames were dropped or skipped, and no boxes beat stale
ones). PyAV (`av`, in the video extra) is imported lazily: `load_av` says how to install it.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import functools
import io
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from routewatch.config.redact import redact_url
from routewatch.model import Box
from routewatch.recording.boxlog import pack_boxes
from routewatch.recording.frameindex import pack_times
from routewatch.recording.segments import FULL_BELOW, GAP_S, SegmentError, part_path, segment_path
from routewatch.store import RecordedSegment

if TYPE_CHECKING:
    from av.container import InputContainer, OutputContainer
    from av.video.stream import VideoStream

CONTAINER = "mp4"
# Codecs MP4 holds that OpenCV's bundled FFmpeg decodes (intersected with the muxer's own list at run time).
COPYABLE = frozenset({"h264", "hevc", "mjpeg", "mpeg4", "mpeg2video", "av1", "vp9"})
TIME_BASE = Fraction(1, 90_000)
DEFAULT_RATE = Fraction(25)
REORDER = 16  # H.264/HEVC reorder at most 16 frames
INSTALL_HINT = "install the video extra: pip install 'routewatch[video]' (PyAV)"

Count = Callable[[str, int], None]


class CopyUnavailable(ValueError):
    """Stream copy cannot be used: PyAV is not installed."""


def load_av() -> ModuleType:
    """The `av` module; CopyUnavailable with the install hint when it is missing."""
    try:
        import av
    except ImportError as exc:
        raise CopyUnavailable(f"recording.mode copy needs PyAV (the `av` package): {INSTALL_HINT}") from exc
    return av


@functools.cache
def _muxable() -> frozenset[str]:
    av = load_av()
    with av.open(io.BytesIO(), "w", format=CONTAINER) as out:
        return frozenset(out.supported_codecs)


def copyable(codec: str) -> bool:
    """Whether packets of `codec` (an FFmpeg codec name) can be copied into a segment file."""
    return codec in COPYABLE and codec in _muxable()


@dataclass(frozen=True, slots=True)
class SourcePacket:
    """One encoded frame of the source: its event time, presentation timestamp, keyframe flag and bytes."""

    time: datetime
    pts: int | None
    key: bool
    data: bytes


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a segment file needs to know of the source's video stream."""

    codec: str
    width: int
    height: int
    rate: Fraction
    b_frames: bool
    extradata: bytes | None


def file_ms(pts: int, start_pts: int | None, time_base: Fraction) -> float:
    """A frame's position in ms as OpenCV's FFmpeg capture gives it (CAP_PROP_POS_MSEC): same doubles, same order.

    >>> file_ms(1000, 0, Fraction(1, 30000))
    33.333333333333336
    """
    return (pts - (start_pts or 0)) * (time_base.numerator / time_base.denominator) * 1000


class Source:
    """A video file or live stream opened with PyAV for its packets (one thread reads it).

    `name` is what messages call it: a file's path, a stream's url redacted (never the raw url).
    """

    def __init__(self, container: InputContainer, name: str, start: datetime | None,
                 now: Callable[[], datetime]) -> None:
        self.container, self.name, self.start, self.now = container, name, start, now
        if not container.streams.video:
            container.close()
            raise SegmentError(errno.EINVAL, f"{name} has no video stream")
        self.stream: VideoStream = container.streams.video[0]
        ctx = self.stream.codec_context
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.info = SourceInfo(ctx.name, ctx.width, ctx.height,
                               Fraction(rate) if rate and 1 <= rate <= 240 else DEFAULT_RATE,
                               bool(ctx.has_b_frames), bytes(ctx.extradata) if ctx.extradata else None)

    @classmethod
    def open_file(cls, path: Path, start: datetime) -> Source:
        """A video file; its packets are timed `start` + their position (OSError if it does not open)."""
        if start.utcoffset() is None:
            raise ValueError("start must be tz-aware (UTC)")
        av = load_av()
        try:
            container = av.open(str(path), "r")
        except av.FFmpegError as exc:
            raise _os_error(exc, f"cannot open {path}") from None
        return cls(container, str(path), start, lambda: datetime.now(UTC))

    @classmethod
    def open_stream(cls, url: str, timeout_s: float, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                    ) -> Source:
        """A live RTSP/HTTP stream (a connection of its own); packets timed by `now()` when read.

        Its name, and any error's text, carry the url redacted (`redact_url`): never its password.
        """
        av = load_av()
        name = redact_url(url)
        options = {"rtsp_transport": "tcp"} if url.lower().startswith(("rtsp:", "rtsps:")) else {}
        try:
            container = av.open(url, "r", options=options, timeout=(timeout_s, timeout_s))
        except av.FFmpegError as exc:
            raise _os_error(exc, f"cannot open {name}") from None
        return cls(container, name, None, now)

    def packets(self) -> Iterator[SourcePacket]:
        """The video packets (no empty ones) with their frame times; ends at the end of the file or stream.

        A read error ends it too (a stream dropped: the caller reconnects; a damaged file: what was read is kept).
        """
        av = load_av()
        tb = self.stream.time_base or TIME_BASE
        start_pts = self.stream.start_time
        last: datetime | None = None
        try:
            for p in self.container.demux(self.stream):
                if not p.size:
                    continue
                pts = p.pts if p.pts is not None else p.dts
                if self.start is not None:
                    t = self.start + timedelta(milliseconds=file_ms(pts, start_pts, tb)) if pts is not None else last
                else:
                    t = self.now()
                    t = t if last is None or t >= last else last  # a clock step back: times never go back
                if t is None:
                    continue  # no time at all before the first timed packet
                last = t
                yield SourcePacket(t, pts, bool(p.is_keyframe), bytes(p))
        except av.FFmpegError:
            return

    def close(self) -> None:
        """Close the input."""
        with contextlib.suppress(Exception):
            self.container.close()


def _os_error(exc: Exception, what: str) -> OSError:
    """An FFmpeg error as an OSError (its errno when it has one), saying `what` and FFmpeg's reason.

    Only the reason (`strerror`) is kept, not str(exc): PyAV ends that with the url it opened, whose
    password would then reach the logs and the recording events.
    """
    code = getattr(exc, "errno", None)
    reason = getattr(exc, "strerror", None)
    return SegmentError(code if isinstance(code, int) and code > 0 else errno.EIO,
                        f"{what}: {reason if isinstance(reason, str) and reason else type(exc).__name__}")


class Feed:
    """A source's packets handed out by time: those at or before the latest processed frame (files)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._it = source.packets()
        self._next: SourcePacket | None = None
        self.done = False

    def _peek(self) -> SourcePacket | None:
        if self._next is None and not self.done:
            self._next = next(self._it, None)
            self.done = self._next is None
        return self._next

    def until(self, t: datetime) -> Iterator[SourcePacket]:
        """The next packets with times at or before `t`."""
        while (p := self._peek()) is not None and p.time <= t:
            self._next = None
            yield p

    def close(self) -> None:
        """Close the source."""
        self.source.close()


@dataclass(frozen=True, slots=True)
class CopiedSegment:
    """A closed copied segment, its file in place; its row waits for the boxes of its frames (`finish`)."""

    rel: str
    times: tuple[datetime, ...]
    size_bytes: int
    codec: str
    width: int
    height: int
    created_at: datetime

    @property
    def start(self) -> datetime:
        """Its first frame's time."""
        return self.times[0]

    @property
    def end(self) -> datetime:
        """Its last frame's time."""
        return self.times[-1]

    def finish(self, camera: str, boxes: Sequence[tuple[Box, ...]]) -> RecordedSegment:
        """Its database row, with each frame's boxes."""
        return RecordedSegment(camera, self.rel, self.start, self.end, len(self.times), self.size_bytes, self.codec,
                               self.width, self.height, self.created_at, pack_times(self.times), pack_boxes(boxes))


class BoxTimeline:
    """The processed frames' (time, boxes) in time order, to give copied frames their boxes."""

    def __init__(self, hold_s: float) -> None:
        self.hold = timedelta(seconds=hold_s)
        self._times: list[datetime] = []
        self._boxes: list[tuple[Box, ...]] = []

    def __len__(self) -> int:
        return len(self._times)

    @property
    def progress(self) -> datetime | None:
        """The latest processed frame's time."""
        return self._times[-1] if self._times else None

    def add(self, t: datetime, boxes: tuple[Box, ...]) -> None:
        """A processed frame (normally the latest; an older one is put in its place)."""
        i = bisect.bisect_right(self._times, t)
        self._times.insert(i, t)
        self._boxes.insert(i, boxes)

    def boxes_for(self, times: Sequence[datetime]) -> list[tuple[Box, ...]]:
        """Per frame time: the boxes of the last processed frame at or before it, within `hold_s`; else none."""
        out: list[tuple[Box, ...]] = []
        for t in times:
            i = bisect.bisect_right(self._times, t) - 1
            out.append(self._boxes[i] if i >= 0 and t - self._times[i] <= self.hold else ())
        return out

    def forget_before(self, t: datetime) -> None:
        """Drop what no frame at or after `t` can need (the last processed frame before `t` stays)."""
        i = max(bisect.bisect_right(self._times, t) - 1, 0)
        del self._times[:i], self._boxes[:i]

    def clear(self) -> None:
        """Forget everything (a new source)."""
        self._times.clear()
        self._boxes.clear()


@dataclass
class _Open:
    rel: str
    final: Path
    part: Path
    out: OutputContainer
    ostream: Any
    start: datetime
    first_pts: int | None
    last: datetime
    times: list[datetime] = field(default_factory=list)
    order: list[tuple[int, int]] = field(default_factory=list)  # presentation keys seen, sorted
    pending: deque[tuple[tuple[int, int], SourcePacket]] = field(default_factory=deque)
    arrivals: int = 0
    muxed: int = 0
    top: tuple[int, int] | None = None  # the largest key muxed so far


class RemuxWriter:
    """Copies one camera's packets into segment files under `root`; not thread-safe (one writer thread).

    `start(source)` before the packets of a source (it closes the open segment, returned). `count`
    gets the writer's counters: recorded_frames, copy_waiting_keyframe (packets before the first
    keyframe), copy_undecodable_keyframe, copy_leading_dropped (open-GOP pictures before a segment's
    keyframe), copy_reordered (a source reordering deeper than its stream said: segment cut there).
    """

    def __init__(self, root: Path, camera: str, *, segment_s: float = 60.0, count: Count = lambda k, n: None,
                 free: Callable[[Path], int] | None = None, full_below: int = FULL_BELOW,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        segment_path(camera, datetime(2000, 1, 1, tzinfo=UTC), "copy:h264")  # refuses a camera name unfit for a path
        self.root, self.camera, self.count, self.clock = root, camera, count, clock
        self.segment = timedelta(seconds=segment_s)
        self.free, self.full_below = free, full_below
        self._template: VideoStream | None = None
        self._info: SourceInfo | None = None
        self._cur: _Open | None = None

    @property
    def active(self) -> str | None:
        """Relative final path of the segment being written, if any."""
        return self._cur.rel if self._cur is not None else None

    @property
    def open_start(self) -> datetime | None:
        """Time of the open segment's first frame, if any."""
        return self._cur.start if self._cur is not None else None

    @property
    def codec(self) -> str:
        """The codec column of this source's segments ('copy:<codec>')."""
        return f"copy:{self._info.codec}" if self._info is not None else "copy:"

    def start(self, source: Source) -> CopiedSegment | None:
        """Take packets of `source` from now on; returns the segment this closed, if one was open."""
        closed = self.close()
        self._template, self._info = source.stream, source.info
        return closed

    def add(self, pkt: SourcePacket) -> CopiedSegment | None:
        """Copy a packet; return the segment it closed first (length reached at a keyframe, a gap), if any."""
        if self._info is None:
            raise RuntimeError("RemuxWriter.start was not called")
        closed = None
        cur = self._cur
        if cur is not None:
            key = self._key(cur, pkt)
            reordered = cur.top is not None and key < cur.top
            if reordered or (pkt.key and (pkt.time - cur.start >= self.segment or pkt.time < cur.start
                                          or (pkt.time - cur.last).total_seconds() > GAP_S)):
                if reordered:
                    self.count("copy_reordered", 1)
                closed = self.close()
                cur = None
                if reordered and not pkt.key:
                    return closed
        if cur is None:
            if not pkt.key:
                self.count("copy_waiting_keyframe", 1)
                return closed
            if not self._decodes(pkt):
                self.count("copy_undecodable_keyframe", 1)
                return closed
            cur = self._cur = self._open(pkt)
        if cur.first_pts is not None and pkt.pts is not None and pkt.pts < cur.first_pts:
            self.count("copy_leading_dropped", 1)  # shown before the keyframe: needs the previous segment
            return closed
        self._put(cur, pkt)
        self.count("recorded_frames", 1)
        return closed

    def _key(self, cur: _Open, pkt: SourcePacket) -> tuple[int, int]:
        """Presentation order: by pts (arrival order breaks ties and stands in for a missing pts)."""
        return (pkt.pts if pkt.pts is not None else cur.arrivals, cur.arrivals)

    def _put(self, cur: _Open, pkt: SourcePacket) -> None:
        key = self._key(cur, pkt)
        cur.arrivals += 1
        bisect.insort(cur.order, key)
        cur.pending.append((key, pkt))
        cur.times.append(pkt.time)
        cur.last = max(cur.last, pkt.time)
        while len(cur.pending) > self._delay():
            self._mux(cur, *cur.pending.popleft())

    def _delay(self) -> int:
        return REORDER if self._info is not None and self._info.b_frames else 0

    def _step(self) -> int:
        assert self._info is not None
        return max(1, round(1 / (self._info.rate * TIME_BASE)))

    def _mux(self, cur: _Open, key: tuple[int, int], pkt: SourcePacket) -> None:
        av = load_av()
        step = self._step()
        rank = bisect.bisect_left(cur.order, key)
        q = av.Packet(pkt.data)
        q.pts, q.dts, q.duration = rank * step, (cur.muxed - self._delay()) * step, step
        q.time_base = TIME_BASE
        q.is_keyframe = pkt.key
        q.stream = cur.ostream
        try:
            cur.out.mux(q)
        except av.FFmpegError as exc:
            raise _os_error(exc, f"segment {cur.rel}") from None
        cur.muxed += 1
        cur.top = key if cur.top is None else max(cur.top, key)

    def _decodes(self, pkt: SourcePacket) -> bool:
        """Whether a keyframe decodes on its own (a segment starting with one that does not would not)."""
        av = load_av()
        assert self._info is not None
        try:
            ctx = av.CodecContext.create(self._info.codec, "r")
            if self._info.extradata:
                ctx.extradata = self._info.extradata
            frames = list(ctx.decode(av.Packet(pkt.data)))
            frames += ctx.decode(None)
        except (av.FFmpegError, ValueError):
            return False
        return bool(frames)

    def _open(self, pkt: SourcePacket) -> _Open:
        av = load_av()
        rel = segment_path(self.camera, pkt.time, self.codec)
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        part = part_path(final)
        try:
            out = av.open(str(part), "w", format=CONTAINER)
        except av.FFmpegError as exc:
            raise _os_error(exc, f"cannot create {part}") from None
        try:
            ostream = out.add_stream_from_template(self._template)
            ostream.time_base = TIME_BASE
        except (av.FFmpegError, ValueError) as exc:
            with contextlib.suppress(Exception):
                out.close()
            with contextlib.suppress(OSError):
                part.unlink()
            raise SegmentError(errno.EINVAL, f"cannot copy {self.codec} into {CONTAINER}: {exc}") from None
        return _Open(rel, final, part, out, ostream, pkt.time, pkt.pts, pkt.time)

    def close(self) -> CopiedSegment | None:
        """Finish the open segment: write it out, check it reads back, rename it into place (None if none open).

        SegmentError (the partial file removed) when it does not read back whole; an OSError from the disk.
        """
        cur, self._cur = self._cur, None
        if cur is None:
            return None
        av = load_av()
        assert self._info is not None
        try:
            while cur.pending:
                self._mux(cur, *cur.pending.popleft())
            try:
                cur.out.close()
            except av.FFmpegError as exc:
                raise _os_error(exc, f"segment {cur.rel}") from None
            got = count_packets(cur.part)
            if got != cur.muxed:
                full = self.free is not None and self.free(cur.part.parent) < self.full_below
                raise SegmentError(errno.ENOSPC if full else errno.EIO,
                                   f"segment {cur.rel} reads back {got} packets of {cur.muxed} written"
                                   + (" (disk full)" if full else " (the writer failed)"), str(cur.part))
            os.replace(cur.part, cur.final)
        except BaseException:
            with contextlib.suppress(Exception):
                cur.out.close()
            with contextlib.suppress(OSError):
                cur.part.unlink()
            raise
        return CopiedSegment(cur.rel, tuple(sorted(cur.times)), cur.final.stat().st_size, self.codec,
                             self._info.width, self._info.height, self.clock())

    def abort(self) -> None:
        """Drop the open segment and its partial file (after a write error)."""
        cur, self._cur = self._cur, None
        if cur is None:
            return
        with contextlib.suppress(Exception):
            cur.out.close()
        with contextlib.suppress(OSError):
            cur.part.unlink()


def count_packets(path: Path) -> int:
    """Video packets in a file, by demuxing (no decoding); -1 when it does not open."""
    av = load_av()
    try:
        with av.open(str(path), "r") as c:
            if not c.streams.video:
                return -1
            return sum(1 for p in c.demux(c.streams.video[0]) if p.size)
    except av.FFmpegError:
        return -1
