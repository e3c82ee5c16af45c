"""Seek latency in a long recording: random seeks through the replay API's own code, against sequential reads.

Usage: python bench/bench_seek.py [--hours 2] [--fps 5] [--size 320x180] [--seeks 300] [--seed 1]

Writes `--hours` of synthetic frames (a square moving over a textured background, one tracked
box per frame) with the real recorder (CameraRecorder, 60 s mp4v segments, waiting for the disk
so every frame is kept) into a temporary SQLite store, then times random seeks: `locate` (the
frame index in the database) + `read_frame` (open the segment, seek to the frame, decode) +
the JPEG encode the API does. The baseline is reading the next frame of an already open segment.
Prints one JSON line: hours, frames, write_s, seek_ms p50/p99/max, sequential_ms p50, target met.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from routewatch.config.recording import CameraRecordingConfig, RecordingConfig
from routewatch.model import Box
from routewatch.recording.evidence import encode_jpeg
from routewatch.recording.recorder import CameraRecorder
from routewatch.replay.frames import locate, read_frame
from routewatch.store import Store

T0 = datetime(2026, 5, 1, tzinfo=UTC)
TARGET_P99_MS = 300.0


def frame(i: int, background: np.ndarray) -> tuple[np.ndarray, Box]:
    h, w = background.shape[:2]
    img = background.copy()
    x, y = (i * 3) % (w - 20), (i * 2) % (h - 20)
    cv2.rectangle(img, (x, y), (x + 16, y + 16), (240, 240, 240), -1)
    return img, Box(x, y, x + 16, y + 16, "person", 0.9, track="1")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--seeks", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(args.seed)
    background = rng.integers(40, 120, (h, w, 3), dtype=np.uint8)
    n = int(args.hours * 3600 * args.fps)
    step = timedelta(seconds=1 / args.fps)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rec"
        with Store(f"sqlite:///{Path(tmp) / 'rw.db'}") as store:
            store.upgrade()
            disk = RecordingConfig(dir=root, min_free_bytes=0, resume_free_bytes=0)
            rec = CameraRecorder("bench", CameraRecordingConfig(enabled=True), disk, store.recordings, fps=args.fps,
                                 wait=True)
            began = time.perf_counter()
            for i in range(n):
                img, box = frame(i, background)
                rec.put(T0 + i * step, img, (box,))
            rec.close()
            write_s = time.perf_counter() - began
            segs = store.recordings.segments("bench")
            assert sum(s.frames for s in segs) == n, "the recorder dropped frames"

            pick = random.Random(args.seed)
            span = (n - 1) / args.fps
            seek_ms: list[float] = []
            for _ in range(args.seeks):
                t = T0 + timedelta(seconds=pick.uniform(0, span))
                t0 = time.perf_counter()
                found = locate(store, "bench", t)
                assert found is not None
                encode_jpeg(read_frame(root, found.path, found.index), quality=85)
                seek_ms.append((time.perf_counter() - t0) * 1000)
                assert (t - found.time).total_seconds() < 1 / args.fps + 1e-6

            seq_ms: list[float] = []
            cap = cv2.VideoCapture(str(root / segs[len(segs) // 2].path))
            for _ in range(min(200, segs[len(segs) // 2].frames)):
                t0 = time.perf_counter()
                ok, _img = cap.read()
                seq_ms.append((time.perf_counter() - t0) * 1000)
                assert ok
            cap.release()
            disk_bytes = sum(s.size_bytes for s in segs)
    p99 = percentile(seek_ms, 0.99)
    print(json.dumps({
        "hours": args.hours, "fps": args.fps, "size": args.size, "frames": n, "segments": len(segs),
        "disk_bytes": disk_bytes, "write_s": round(write_s, 1), "seeks": args.seeks,
        "seek_ms_p50": round(statistics.median(seek_ms), 2), "seek_ms_p99": round(p99, 2),
        "seek_ms_max": round(max(seek_ms), 2), "sequential_ms_p50": round(statistics.median(seq_ms), 3),
        "target_p99_ms": TARGET_P99_MS, "target_met": p99 < TARGET_P99_MS}))


if __name__ == "__main__":
    main()
