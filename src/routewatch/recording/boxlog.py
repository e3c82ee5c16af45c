"""The tracked boxes of every frame of a segment, packed so a player can draw them over the video.

One record per box: frame index in the segment, track and class (indexes into name tables kept
once per segment), confidence and x1, y1, x2, y2 in full-frame pixels, all float32 (a tenth of a
millipixel at 4K: exact enough to draw). Frames without boxes cost nothing.

>>> from routewatch.model import Box
>>> frames = [(), (Box(10.5, 20, 50, 90, "person", 0.875, track="7"),), ()]
>>> unpack_boxes(pack_boxes(frames)) == frames
True
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence

import numpy as np

from routewatch.model import Box

MAGIC = b"RWB1"
_HEAD = struct.Struct("<4sI")
_LEN = struct.Struct("<I")
BOX = np.dtype([("frame", "<u4"), ("track", "<u4"), ("cls", "<u2"), ("conf", "<f4"),
                ("x1", "<f4"), ("y1", "<f4"), ("x2", "<f4"), ("y2", "<f4")])
MAX_FRAMES = 10_000_000
MAX_BYTES = 256_000_000


def pack_boxes(frames: Sequence[Sequence[Box]]) -> bytes:
    """The boxes of each frame (a possibly empty sequence per frame) as a compact blob."""
    tracks: dict[str, int] = {}
    classes: dict[str, int] = {}
    n = sum(len(f) for f in frames)
    rec = np.zeros(n, dtype=BOX)
    k = 0
    for i, boxes in enumerate(frames):
        for b in boxes:
            rec[k] = (i, tracks.setdefault(b.track, len(tracks)), classes.setdefault(b.cls, len(classes)),
                      b.conf, b.x1, b.y1, b.x2, b.y2)
            k += 1
    if len(classes) > 65535:
        raise ValueError(f"too many classes in one segment ({len(classes)})")
    names = json.dumps({"tracks": list(tracks), "classes": list(classes)}, separators=(",", ":")).encode()
    return _HEAD.pack(MAGIC, len(frames)) + zlib.compress(_LEN.pack(len(names)) + names + rec.tobytes(), 6)


def unpack_boxes(blob: bytes) -> list[tuple[Box, ...]]:
    """The boxes of each frame of a blob (floats as stored, float32); ValueError for a blob that is not one."""
    if len(blob) < _HEAD.size:
        raise ValueError(f"box log too short ({len(blob)} bytes)")
    magic, n = _HEAD.unpack_from(blob)
    if magic != MAGIC:
        raise ValueError(f"not a box log (magic {magic!r})")
    if n > MAX_FRAMES:
        raise ValueError(f"box log claims {n} frames, more than {MAX_FRAMES}")
    try:
        d = zlib.decompressobj()
        body = d.decompress(blob[_HEAD.size :], MAX_BYTES)
        if d.unconsumed_tail:
            raise ValueError(f"box log larger than {MAX_BYTES} bytes")
        (size,) = _LEN.unpack_from(body)
        names = json.loads(body[_LEN.size : _LEN.size + size])
        tracks, classes = [str(t) for t in names["tracks"]], [str(c) for c in names["classes"]]
        raw = body[_LEN.size + size :]
    except (zlib.error, struct.error, json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"box log is corrupt: {type(exc).__name__}: {exc}") from None
    if len(raw) % BOX.itemsize:
        raise ValueError(f"box log records are {len(raw)} bytes, not a multiple of {BOX.itemsize}")
    rec = np.frombuffer(raw, dtype=BOX)
    if len(rec) and (int(rec["frame"].max()) >= n or int(rec["track"].max()) >= len(tracks)
                     or int(rec["cls"].max()) >= len(classes)):
        raise ValueError("box log refers to a frame, track or class it does not have")
    out: list[list[Box]] = [[] for _ in range(n)]
    for r in rec.tolist():
        frame, track, cls, conf, x1, y1, x2, y2 = r
        out[frame].append(Box(x1, y1, x2, y2, classes[cls], conf, track=tracks[track]))
    return [tuple(f) for f in out]


def as_stored(box: Box) -> Box:
    """A box as it reads back from a box log (coordinates and confidence rounded to float32)."""
    f = np.float32
    return Box(float(f(box.x1)), float(f(box.y1)), float(f(box.x2)), float(f(box.y2)), box.cls, float(f(box.conf)),
               track=box.track)
