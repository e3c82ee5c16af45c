"""Evidence drawing and JPEG encoding: the box lands where the track was, the size stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from routewatch.model import Box
from routewatch.recording.evidence import BOX_BGR, draw_box, encode_jpeg, label_for, line_width, render

T = datetime(2026, 5, 1, 3, 0, 13, 250000, tzinfo=UTC)


def box_mask(image: np.ndarray) -> np.ndarray:
    """Pixels close to the box colour (after JPEG): magenta = high blue and red, low green."""
    b, g, r = (image[..., k].astype(int) for k in range(3))
    return (abs(b - BOX_BGR[0]) < 70) & (abs(g - BOX_BGR[1]) < 90) & (abs(r - BOX_BGR[2]) < 70)


def noise(h: int, w: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur((rng.random((h, w, 3)) * 180 + 40).astype(np.uint8), (9, 9), 0)


@pytest.mark.parametrize(("shape", "box"), [
    pytest.param((480, 640, 3), Box(200, 150, 300, 320, "person", track="4"), id="middle"),
    pytest.param((480, 640, 3), Box(5, 2, 200, 80, "car", track="4"), id="top-left-label-inside"),
    pytest.param((240, 320), Box(100, 100, 150, 200, track="4"), id="grey-frame"),
    pytest.param((1080, 1920, 3), Box(1500, 700, 1800, 1075, track="12"), id="full-hd-at-the-edge"),
])
def test_the_drawn_box_is_where_the_track_was(shape: tuple[int, ...], box: Box) -> None:
    image = noise(*shape[:2]) if len(shape) == 3 else cv2.cvtColor(noise(*shape), cv2.COLOR_BGR2GRAY)
    jpeg, w, h = render(image, box, T, quality=85, max_bytes=2_000_000)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (shape[0], shape[1], 3) and (w, h) == (shape[1], shape[0])
    mask = box_mask(decoded)
    x1, y1, x2, y2 = box.clipped(w, h)
    near = line_width(w, h) // 2 + 4  # half the line, plus JPEG's blur of a sharp coloured edge
    edges = {
        "top": mask[y1, x1 + 8:x2 - 8], "bottom": mask[y2, x1 + 8:x2 - 8],
        "left": mask[y1 + 8:y2 - 8, x1], "right": mask[y1 + 8:y2 - 8, x2],
    }
    for name, line in edges.items():
        assert line.mean() > 0.9, (name, line.mean())
    ys, xs = np.nonzero(mask)
    assert abs(xs.min() - x1) <= near and abs(xs.max() - x2) <= near
    assert abs(ys.min() - y1) <= near and abs(ys.max() - y2) <= near
    # inside the box the frame is untouched, apart from the label band
    assert mask[y1 + 40:y2 - 10, x1 + 10:x2 - 10].mean() < 0.01
    assert image.flags.writeable  # the caller's frame is not drawn on
    assert not box_mask(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image).any()


def test_label_names_class_track_and_time() -> None:
    assert label_for(Box(0, 0, 1, 1, "car", track="3"), T) == "car #3 03:00:13.250Z"


@pytest.mark.parametrize(("quality", "max_bytes", "error"), [
    pytest.param(85, None, None, id="no-limit"),
    pytest.param(95, 60_000, None, id="quality-lowered-to-fit"),
    pytest.param(85, 2_000, "over the limit", id="cannot-fit"),
    pytest.param(0, None, "quality", id="quality-too-low"),
    pytest.param(101, None, "quality", id="quality-too-high"),
])
def test_jpeg_size_is_bounded(quality: int, max_bytes: int | None, error: str | None) -> None:
    image = noise(480, 640)
    if error is not None:
        with pytest.raises(ValueError, match=error):
            encode_jpeg(image, quality=quality, max_bytes=max_bytes)
        return
    data = encode_jpeg(image, quality=quality, max_bytes=max_bytes)
    assert data[:3] == b"\xff\xd8\xff"
    if max_bytes is not None:
        assert len(data) <= max_bytes < len(encode_jpeg(image, quality=quality))
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)


@pytest.mark.parametrize("image", [
    pytest.param(np.zeros((10, 10, 4), np.uint8), id="four-channels"),
    pytest.param(np.zeros((1, 1, 3), np.uint8), id="one-pixel"),
    pytest.param(np.zeros((10,), np.uint8), id="one-dimension"),
])
def test_unusable_frames_are_refused(image: np.ndarray) -> None:
    with pytest.raises(ValueError):
        draw_box(image, Box(0, 0, 5, 5, track="1"), label="x")
