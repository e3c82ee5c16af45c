"""Motion gate for fixed cameras: background subtraction on a small grey frame finds moving regions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from routewatch.model import Box

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Region:
    """A moving region in full-frame pixel coordinates."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def area(self) -> int:
        """Area in pixels."""
        return (self.x2 - self.x1) * (self.y2 - self.y1)


def near_motion(box: Box, regions: Iterable[Region]) -> bool:
    """Whether a detected box overlaps a moving region: a passing car does, a parked one does not.

    >>> near_motion(Box(10, 10, 20, 20), [Region(15, 15, 40, 40)]), near_motion(Box(10, 10, 20, 20), [])
    (True, False)
    """
    return any(box.x1 < r.x2 and r.x1 < box.x2 and box.y1 < r.y2 and r.y1 < box.y2 for r in regions)


class MotionGate:
    """MOG2 background subtraction at a reduced width; a detector runs only where this finds motion.

    Regions smaller than `min_area_frac` of the shrunk frame are noise. When more than `lighting_frac`
    of the frame changes at once, it is a lighting change (lights on, sun out of a cloud, the camera's
    exposure), not an object: no region is reported and the background is relearned from that frame,
    as Frigate does for its "lightning" threshold. Mutable by nature (it learns the background), so
    one gate belongs to one camera's thread.
    """

    def __init__(self, *, width: int = 320, min_area_frac: float = 0.0005, history: int = 300,
                 var_threshold: float = 25.0, warmup_frames: int = 10, lighting_frac: float = 0.8) -> None:
        if width < 16 or not 0 < min_area_frac < 1 or not 0 < lighting_frac <= 1 or warmup_frames < 0:
            raise ValueError(f"bad motion gate settings: width={width} min_area_frac={min_area_frac} "
                             f"lighting_frac={lighting_frac} warmup_frames={warmup_frames}")
        self.width = width
        self.min_area_frac = min_area_frac
        self.warmup = warmup_frames
        self.lighting_frac = lighting_frac
        self.lighting_changes = 0
        self._sub = cv2.createBackgroundSubtractorMOG2(history=history, varThreshold=var_threshold,
                                                       detectShadows=False)
        self._seen = 0
        self._kernel = np.ones((3, 3), np.uint8)

    def regions(self, image: Image) -> list[Region]:
        """Moving regions of this frame (none during the warm-up while the background is learned)."""
        h, w = image.shape[:2]
        scale = self.width / w if w > self.width else 1.0
        small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small, (5, 5), 0)
        mask = self._sub.apply(grey)
        self._seen += 1
        if self._seen <= self.warmup:
            return []
        if cv2.countNonZero(mask) > self.lighting_frac * mask.size:
            self._sub.apply(grey, learningRate=1.0)  # 1 = relearn the background from this frame alone
            self.lighting_changes += 1
            return []
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        mask = cv2.dilate(mask, self._kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_area = self.min_area_frac * grey.shape[0] * grey.shape[1]
        out = []
        for c in contours:
            x, y, cw, ch = cv2.boundingRect(c)
            if cw * ch < min_area:
                continue
            out.append(Region(int(x / scale), int(y / scale), int((x + cw) / scale), int((y + ch) / scale)))
        return sorted(out, key=lambda r: (r.y1, r.x1))
