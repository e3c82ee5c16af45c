"""Alert evidence from video: draw a tracked box and its label on a frame, encode it as a bounded JPEG.

Pure helpers (numpy and OpenCV, no store, no threads); the frame cache is in `framecache`, and
the sink that stores snapshots when alerts open is in `snapshots`.

>>> import numpy as np
>>> from routewatch.model import Box
>>> box = Box(10, 20, 50, 90, "person", 0.9, track="7")
>>> jpeg = encode_jpeg(draw_box(np.zeros((120, 160, 3), np.uint8), box, label="person #7"), quality=80)
>>> jpeg[:3] == b"\\xff\\xd8\\xff"
True
"""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
import numpy.typing as npt

from routewatch.model import Box

Image = npt.NDArray[np.uint8]

# Magenta (BGR): rare in outdoor scenes, so the box stands out to people and can be found by tests.
BOX_BGR = (255, 0, 255)
LABEL_BG = (0, 0, 0)
LABEL_FG = (255, 255, 255)
MIN_QUALITY = 30
QUALITY_STEP = 10
JPEG_MAGIC = b"\xff\xd8\xff"


def label_for(box: Box, time: datetime) -> str:
    """The text drawn with a box: class, track id and the frame's UTC time.

    >>> label_for(Box(0, 0, 1, 1, "car", track="3"), datetime(2026, 5, 1, 3, 0, 13, 250000, tzinfo=UTC))
    'car #3 03:00:13.250Z'
    """
    t = time.astimezone(UTC)
    return f"{box.cls} #{box.track} {t:%H:%M:%S}.{t.microsecond // 1000:03d}Z"


def line_width(width: int, height: int) -> int:
    """Box line width in pixels: thick enough to survive JPEG chroma subsampling, growing with the frame."""
    return max(3, min(width, height) // 200)


def draw_box(image: Image, box: Box, *, label: str) -> Image:
    """A BGR copy of `image` (BGR or grey) with the box outlined and the label on a dark band above it."""
    out: Image
    if image.ndim == 2:
        out = np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    elif image.ndim == 3 and image.shape[2] == 3:
        out = image.copy()
    else:
        raise ValueError(f"expected a BGR or grey image, got an array of shape {image.shape}")
    h, w = out.shape[:2]
    if w < 2 or h < 2:
        raise ValueError(f"image too small for a snapshot: {w}x{h}")
    x1, y1, x2, y2 = box.clipped(w, h)
    thick = line_width(w, h)
    cv2.rectangle(out, (x1, y1), (x2, y2), BOX_BGR, thick)
    scale = max(0.4, h / 900.0)
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    pad = 3
    band_h = th + base + 2 * pad
    # Above the box when there is room, else just inside its top-left corner (clear of the lines).
    above = y1 - thick - band_h >= 0
    top = y1 - thick - band_h if above else min(y1 + thick, h - band_h)
    left = min(x1 if above else x1 + thick, max(w - tw - 2 * pad, 0))
    cv2.rectangle(out, (left, top), (left + tw + 2 * pad, top + band_h), LABEL_BG, -1)
    cv2.putText(out, label, (left + pad, top + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, LABEL_FG, 1, cv2.LINE_AA)
    return out


def encode_jpeg(image: Image, *, quality: int = 85, max_bytes: int | None = None) -> bytes:
    """JPEG bytes of `image` at `quality`, lowered in steps (to MIN_QUALITY) until it fits `max_bytes`.

    Raises ValueError when the quality is out of 1..100 or the image cannot fit.
    """
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1..100, got {quality}")
    q = quality
    while True:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise ValueError(f"cannot encode a JPEG from an array of shape {image.shape}")
        data = buf.tobytes()
        if max_bytes is None or len(data) <= max_bytes:
            return data
        if q <= MIN_QUALITY:
            raise ValueError(f"snapshot is {len(data)} bytes at quality {q}, over the limit of {max_bytes}")
        q = max(MIN_QUALITY, q - QUALITY_STEP)


def render(image: Image, box: Box, time: datetime, *, quality: int = 85,
           max_bytes: int | None = None) -> tuple[bytes, int, int]:
    """The evidence JPEG of one tracked box in one frame: (jpeg bytes, width, height)."""
    drawn = draw_box(image, box, label=label_for(box, time))
    h, w = drawn.shape[:2]
    return encode_jpeg(drawn, quality=quality, max_bytes=max_bytes), w, h
