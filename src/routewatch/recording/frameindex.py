"""The time of every frame of a segment, packed: a player seeks by time and steps frame by frame.

Times are microseconds since the Unix epoch, stored as the first value and the differences after
it (int64, zlib): regular frame spacing compresses to a few bytes a frame.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
>>> times = [t0 + timedelta(seconds=i / 5) for i in range(300)]
>>> blob = pack_times(times)
>>> len(blob) < 100, unpack_times(blob) == times
(True, True)
>>> frame_at(blob, t0 + timedelta(seconds=1.1))
5
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

MAGIC = b"RWT1"
_HEAD = struct.Struct("<4sI")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
MAX_FRAMES = 10_000_000


def micros(t: datetime) -> int:
    """Microseconds since the epoch of a tz-aware time (ValueError for a naive one)."""
    if t.utcoffset() is None:
        raise ValueError(f"frame time must be tz-aware, got {t!r}")
    return (t - EPOCH) // _US


def from_micros(us: int) -> datetime:
    """The UTC time of microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=int(us))


def pack_times(times: Sequence[datetime]) -> bytes:
    """Frame times (non-decreasing, tz-aware) as a compact blob; ValueError otherwise."""
    us = np.fromiter((micros(t) for t in times), dtype=np.int64, count=len(times))
    if len(us) > 1 and bool(np.any(np.diff(us) < 0)):
        raise ValueError("frame times must not go backwards within a segment")
    deltas = np.diff(us, prepend=np.int64(0)).astype("<i8")
    return _HEAD.pack(MAGIC, len(us)) + zlib.compress(deltas.tobytes(), 6)


def unpack_micros(blob: bytes) -> npt.NDArray[np.int64]:
    """The frame times of a blob as microseconds since the epoch; ValueError for a blob that is not one."""
    if len(blob) < _HEAD.size:
        raise ValueError(f"frame index too short ({len(blob)} bytes)")
    magic, n = _HEAD.unpack_from(blob)
    if magic != MAGIC:
        raise ValueError(f"not a frame index (magic {magic!r})")
    if n > MAX_FRAMES:
        raise ValueError(f"frame index claims {n} frames, more than {MAX_FRAMES}")
    try:
        body = zlib.decompress(blob[_HEAD.size :], bufsize=max(n * 8, 1))
    except zlib.error as exc:
        raise ValueError(f"frame index is corrupt: {exc}") from None
    if len(body) != n * 8:
        raise ValueError(f"frame index holds {len(body) // 8} times, its header says {n}")
    us = np.cumsum(np.frombuffer(body, dtype="<i8")).astype(np.int64)
    if n > 1 and bool(np.any(np.diff(us) < 0)):
        raise ValueError("frame index times go backwards")
    return us


def unpack_times(blob: bytes) -> list[datetime]:
    """The frame times of a blob (tz-aware UTC)."""
    return [from_micros(int(u)) for u in unpack_micros(blob)]


def frame_at(blob_or_micros: bytes | npt.NDArray[np.int64], t: datetime) -> int | None:
    """Index of the frame shown at time `t` (the last one at or before it); None before the first."""
    us = unpack_micros(blob_or_micros) if isinstance(blob_or_micros, bytes) else blob_or_micros
    i = int(np.searchsorted(us, micros(t), side="right")) - 1
    return i if i >= 0 else None
