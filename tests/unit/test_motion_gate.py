"""The motion gate on rendered frame sequences: what it reports as motion, and what it must ignore."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from routewatch.cameras.motion import MotionGate, Region, near_motion
from routewatch.model import Box

W, H, N, EVENT = 320, 240, 60, 30  # frame size, frames per sequence, frame where something happens
SQUARE = 24


def background() -> np.ndarray:
    rng = np.random.default_rng(3)
    return cv2.GaussianBlur((rng.random((H, W, 3)) * 200 + 30).astype(np.uint8), (7, 7), 0)


def recompress(img: np.ndarray, quality: int = 70) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def square_at(i: int) -> tuple[int, int, int, int] | None:
    if i < EVENT:
        return None
    x = 10 + 5 * (i - EVENT)
    return x, 100, x + SQUARE, 100 + SQUARE


def static(i: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return bg


def noisy(i: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise (sigma 4 grey levels) and a fresh JPEG encoding in every frame, nothing moving."""
    return recompress(np.clip(bg + rng.normal(0, 4, bg.shape), 0, 255).astype(np.uint8))


def mover(i: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = noisy(i, bg, rng)
    if (b := square_at(i)) is not None:
        cv2.rectangle(img, b[:2], (b[2] - 1, b[3] - 1), (255, 255, 255), -1)
    return img


def lights(i: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The whole scene brightens by 60 grey levels at once (a lamp, the sun out of a cloud)."""
    return noisy(i, cv2.add(bg, np.full_like(bg, 60)) if i >= EVENT else bg, rng)


def lights_then_mover(i: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lights change at EVENT; a dark square starts crossing 10 frames later (white would vanish in the glare)."""
    img = lights(i, bg, rng)
    if (b := square_at(i - 10)) is not None:
        cv2.rectangle(img, b[:2], (b[2] - 1, b[3] - 1), (10, 10, 10), -1)
    return img


def run(make: Callable[[int, np.ndarray, np.random.Generator], np.ndarray], **kw: float) -> tuple[list, MotionGate]:
    gate = MotionGate(width=W, warmup_frames=10, **kw)
    bg, rng = background(), np.random.default_rng(5)
    return [gate.regions(make(i, bg, rng)) for i in range(N)], gate


def overlaps(b: tuple[int, int, int, int], regions: list[Region]) -> bool:
    return any(b[0] < r.x2 and r.x1 < b[2] and b[1] < r.y2 and r.y1 < b[3] for r in regions)


@pytest.mark.parametrize(("make", "quiet", "moving_from", "lighting_changes"), [
    pytest.param(static, range(N), None, 0, id="static-frames"),
    pytest.param(noisy, range(N), None, 0, id="noise-and-jpeg-only"),
    pytest.param(mover, range(EVENT), EVENT + 1, 0, id="a-moving-object"),
    pytest.param(lights, range(N), None, 1, id="lighting-change"),
    pytest.param(lights_then_mover, range(EVENT + 10), EVENT + 11, 1, id="lighting-change-then-a-mover"),
])
def test_what_the_gate_reports(make, quiet, moving_from, lighting_changes):
    frames, gate = run(make)
    assert [i for i in quiet if frames[i]] == []  # no region: the detector would not run there
    assert gate.lighting_changes == lighting_changes
    if moving_from is not None:
        shift = 10 if make is lights_then_mover else 0
        for i in range(moving_from, N):
            b = square_at(i - shift)
            assert b is not None and frames[i], (i, b)
            near = (b[0] - 8, b[1] - 8, b[2] + 8, b[3] + 8)
            assert all(overlaps(near, [r]) for r in frames[i]), (i, b, frames[i])  # at the object, nowhere else


def test_without_the_lighting_rule_a_lighting_change_looks_like_motion():
    frames, gate = run(lights, lighting_frac=1.0)
    assert gate.lighting_changes == 0
    assert sum(bool(r) for r in frames[EVENT:]) >= 3  # the detector would run on a change of light


def test_nothing_during_warm_up():
    frames, _ = run(lambda i, bg, rng: rng.integers(0, 255, bg.shape, dtype=np.uint8))
    assert frames[:10] == [[]] * 10 and any(frames[10:])  # pure noise is motion once the warm-up is over


@pytest.mark.parametrize("kw", [{"width": 0}, {"min_area_frac": 0.0}, {"min_area_frac": 1.0},
                                {"lighting_frac": 0.0}, {"lighting_frac": 1.5}, {"warmup_frames": -1}])
def test_bad_settings_are_refused(kw):
    with pytest.raises(ValueError, match="motion gate"):
        MotionGate(**kw)


@pytest.mark.parametrize(("box", "regions", "expected"), [
    pytest.param(Box(10, 10, 20, 20), [], False, id="no-motion"),
    pytest.param(Box(10, 10, 20, 20), [Region(15, 15, 40, 40)], True, id="overlap"),
    pytest.param(Box(10, 10, 20, 20), [Region(0, 0, 100, 100)], True, id="inside-a-region"),
    pytest.param(Box(10, 10, 20, 20), [Region(20, 10, 30, 20)], False, id="edge-touch-only"),
    pytest.param(Box(10, 10, 20, 20), [Region(50, 50, 60, 60), Region(0, 18, 12, 30)], True, id="second-region"),
    pytest.param(Box(10, 10, 20, 20), [Region(50, 50, 60, 60)], False, id="far-away"),
])
def test_a_box_is_moving_when_it_overlaps_motion(box, regions, expected):
    assert near_motion(box, regions) is expected
