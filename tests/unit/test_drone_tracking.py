"""Tracking for moving cameras: ground-plane association and the motion-compensated background."""

from __future__ import annotations

import doctest

import cv2
import numpy as np
import pytest

from routewatch.cameras import drone as dronevision
from routewatch.cameras import egomotion
from routewatch.cameras.egomotion import CompensatedMotion, register
from routewatch.tracking import groundtrack
from routewatch.tracking.groundtrack import GroundTracker


@pytest.mark.parametrize("module", [egomotion, groundtrack, dronevision])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def test_ground_tracks_keep_ids_through_crossing_and_a_miss():
    tr = GroundTracker(gate_m=3.0, min_hits=2, max_missed=2)
    ids: dict[int, set[int]] = {0: set(), 1: set()}
    for k in range(12):
        points = [(float(k), 0.0), (11.0 - k, 0.5)]  # two walkers passing each other 0.5 m apart
        if k == 6:
            points = points[:1]  # the second one is missed once
        for tid, j in tr.update(float(k), points):
            ids[j].add(tid)
    assert len(ids[0]) == 1 and len(ids[1]) == 1 and ids[0] != ids[1], ids


@pytest.mark.parametrize(("points", "expect"), [
    pytest.param([[], [], []], [[], [], []], id="empty"),
    pytest.param([[(0, 0)], [(1, 0)], [(2, 0)]], [[], [], [(1, 0)]], id="confirmed-on-third-hit"),
    pytest.param([[(0, 0)], [(10, 0)], [(20, 0)]], [[], [], []], id="jumps-beyond-the-gate-are-new-tracks"),
    pytest.param([[(0, 0)], [(1, 0)], [], [], [], [], [], [], [(8, 0)]], [[], [], [], [], [], [], [], [], []],
                 id="lost-after-max-missed"),
])
def test_ground_tracker_table(points, expect):
    tr = GroundTracker(gate_m=4.0, min_hits=3, max_missed=5, max_age_s=100.0)
    got = [tr.update(float(k), [(float(x), float(y)) for x, y in ps]) for k, ps in enumerate(points)]
    assert got == expect


def textured(seed: int = 3, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random(size, dtype=np.float32), (0, 0), 3)
    img = (img - img.min()) / (img.max() - img.min()) * 160 + 40
    return cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_GRAY2BGR)


def shifted(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def test_register_recovers_a_camera_shift():
    a = textured()
    h = register(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(shifted(a, 6.5, -3.25), cv2.COLOR_BGR2GRAY))
    assert h is not None and h[0, 2] == pytest.approx(6.5, abs=0.1) and h[1, 2] == pytest.approx(-3.25, abs=0.1)
    flat = np.full((480, 640), 128, np.uint8)
    assert register(flat, flat) is None  # nothing to register on


def test_a_moving_square_is_found_while_the_view_pans_and_nothing_else():
    ground = textured(size=(600, 900))
    motion = CompensatedMotion(width=640, min_area_frac=0.0002, history_s=2.0, samples=8)
    found = []
    for k in range(30):
        t = k * 0.25
        view = shifted(ground, -4.0 * k, -1.5 * k)[:480, :640].copy()  # the camera pans right and down
        x, y = 200 + 8 * k, 300 - 3 * k  # a bright square moving across the image
        cv2.rectangle(view, (x, y), (x + 12, y + 12), (250, 250, 250), -1)
        regions = motion.regions(view, t)
        found.append((k, x, y, regions))
    late = [(k, x, y, r) for k, x, y, r in found if k >= 12]
    assert all(len(r) == 1 for _, _, _, r in late), [(k, r) for k, _, _, r in late]
    for _, x, y, [r] in late:
        assert abs(r.x1 - x) <= 3 and abs(r.y2 - (y + 12)) <= 3
    assert motion.counts["registration_failed"] == 0


def test_registration_failure_restarts_the_background():
    motion = CompensatedMotion(width=320)
    flat = np.full((240, 320, 3), 128, np.uint8)
    assert motion.regions(flat, 0.0) == [] and motion.regions(flat, 0.5) == []
    assert motion.counts["registration_failed"] == 1
