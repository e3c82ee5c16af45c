"""Video frames with event times, and the motion gate, on real and rendered video."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from routewatch.cameras.motion import MotionGate
from routewatch.ingest.video import VideoStats, iter_file

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def render(path: Path, n: int = 80, start_moving: int = 30, size: tuple[int, int] = (320, 240)) -> list:
    """A textured static scene; from `start_moving` a 24x24 square crosses it. Returns its true boxes."""
    w, h = size
    rng = np.random.default_rng(1)
    bg = cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.uint8), (7, 7), 0)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    boxes = []
    for i in range(n):
        img = bg.copy()
        box = None
        if i >= start_moving:
            x = 10 + 4 * (i - start_moving)
            box = (x, 100, x + 24, 124)
            cv2.rectangle(img, box[:2], (box[2] - 1, box[3] - 1), (255, 255, 255), -1)
        out.write(img)
        boxes.append(box)
    out.release()
    return boxes


@pytest.mark.slow
def test_real_video_frames_are_timed_by_the_container(shared_data):
    stats = VideoStats()
    frames = list(iter_file(shared_data / "video" / "people.mp4", "cam1", T0, stats))
    assert len(frames) == stats.frames == 302 and stats.corrupt == 0
    assert frames[0].time == T0 or frames[0].time - T0 < timedelta(milliseconds=40)
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(frames)]
    assert all(abs(g - 1 / 30) < 0.002 for g in gaps)
    assert frames[0].image.shape == (1080, 1920, 3)
    with pytest.raises(ValueError):
        frames[0].image[0, 0, 0] = 1  # read-only: safe to hand across threads


def test_motion_gate_finds_the_mover_and_nothing_else(tmp_path):
    path = tmp_path / "scene.avi"
    truth = render(path)
    gate = MotionGate(width=320, warmup_frames=10)
    hits = []
    for f, box in zip(iter_file(path, "cam", T0), truth, strict=True):
        regions = gate.regions(f.image)
        hits.append((f.index, box, regions))
    for idx, box, regions in hits:
        if idx < 30 and idx > 10:
            assert regions == [], (idx, regions)  # a static scene: the detector would not run
        if box is not None and idx > 32:
            assert len(regions) == 1, (idx, regions)
            r = regions[0]
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            assert r.x1 <= cx <= r.x2 and r.y1 <= cy <= r.y2, (idx, box, r)


def test_motion_on_a_busy_street(shared_data):
    gate = MotionGate()
    moving = [bool(gate.regions(f.image)) for f in iter_file(shared_data / "video" / "people.mp4", "c", T0)]
    assert sum(moving[20:]) / len(moving[20:]) > 0.9


@pytest.mark.parametrize(("make", "error"), [
    (lambda p: p / "missing.mp4", FileNotFoundError),
    (lambda p: (p / "junk.mp4").write_bytes(b"\x00garbage" * 1000) and p / "junk.mp4", OSError),
])
def test_bad_video_inputs(tmp_path, make, error):
    with pytest.raises(error):
        list(iter_file(make(tmp_path), "c", T0))


def test_start_time_must_be_utc_aware(tmp_path):
    render(tmp_path / "s.avi", n=3)
    with pytest.raises(ValueError, match="tz-aware"):
        list(iter_file(tmp_path / "s.avi", "c", datetime(2026, 1, 1)))
