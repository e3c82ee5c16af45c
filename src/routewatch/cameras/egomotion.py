"""Moving objects seen from a moving camera, without a detector: motion-compensated background.

Each frame is registered onto the previous one with a homography (sparse optical flow on corner
features, RANSAC), which is exact for flat ground seen from any pose and which the moving
objects, being few and small, do not disturb. A few past frames spread over `history_s` are
warped onto the current frame, and their per-pixel median is the background: an object that
moved on by more than its own length over that span is not in it. Pixels that differ from
the background by more than `threshold` grey levels form the moving regions.

Limits: parallax from tall structures (buildings, trees) is not a plane and shows as motion;
an object that stops fades into the background after about history_s / 2; where the view has
just uncovered new ground there is no background yet (too few past frames cover it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from routewatch.cameras.motion import Region

Image = npt.NDArray[np.uint8]
Mat = npt.NDArray[np.float64]


@dataclass(slots=True)
class _Past:
    time_s: float
    grey: npt.NDArray[np.float32]
    to_now: Mat  # homography from this frame onto the newest one


def register(prev: Image, cur: Image, *, max_corners: int = 400, min_inliers: int = 20) -> Mat | None:
    """Homography taking prev's pixels onto cur's (grey images of one size), or None if unsure."""
    pts = cv2.goodFeaturesToTrack(prev, maxCorners=max_corners, qualityLevel=0.01, minDistance=7, blockSize=7)
    if pts is None or len(pts) < min_inliers:
        return None
    # None for nextPts: OpenCV allocates the output.
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, winSize=(21, 21), maxLevel=3)
    ok = status.reshape(-1) == 1
    if int(ok.sum()) < min_inliers:
        return None
    h, inliers = cv2.findHomography(pts[ok], nxt[ok], cv2.RANSAC, 1.0)
    if h is None or inliers is None or int(inliers.sum()) < min_inliers or not np.all(np.isfinite(h)):
        return None
    return np.asarray(h, dtype=np.float64)


@dataclass(slots=True)
class CompensatedMotion:
    """Moving regions of a moving camera's frames (mutable: it keeps recent frames)."""

    width: int = 320
    min_area_frac: float = 0.0005
    threshold: int = 25
    history_s: float = 4.0
    samples: int = 8
    merge_px: int = 3
    min_votes: int = 5  # a majority of 5 spans over 1.5 s: longer than most targets take to pass a point
    counts: Counter[str] = field(default_factory=Counter)
    _past: list[_Past] = field(default_factory=list)
    _prev: Image | None = None
    _kernel: Image = field(default_factory=lambda: np.ones((3, 3), np.uint8))

    def regions(self, image: Image, time_s: float) -> list[Region]:
        """Moving regions (full-frame pixels) of a frame taken at time_s (seconds, increasing)."""
        h, w = image.shape[:2]
        scale = self.width / w if w > self.width else 1.0
        small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        grey: Image = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small, np.uint8)
        smooth = cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32)
        step = register(self._prev, grey) if self._prev is not None else None
        self._prev = grey
        if step is None:
            if self._past:
                self.counts["registration_failed"] += 1
            self._past = [_Past(time_s, smooth, np.eye(3))]  # start over from this frame
            return []
        for p in self._past:
            p.to_now = step @ p.to_now
        out = self._moving(smooth, time_s, scale)
        self._remember(_Past(time_s, smooth, np.eye(3)))
        return out

    def _remember(self, cur: _Past) -> None:
        # Keep frames about history_s / samples apart, spanning history_s.
        spacing = self.history_s / self.samples
        if not self._past or cur.time_s - self._past[-1].time_s >= spacing:
            self._past.append(cur)
        self._past = [p for p in self._past if cur.time_s - p.time_s <= self.history_s + spacing]

    def _moving(self, cur: npt.NDArray[np.float32], time_s: float, scale: float) -> list[Region]:
        spacing = self.history_s / self.samples
        usable = [p for p in self._past if time_s - p.time_s >= spacing]  # the newest are too close in time
        if len(usable) < self.min_votes:
            return []
        hh, ww = cur.shape
        stack = np.stack([cv2.warpPerspective(p.grey, p.to_now, (ww, hh), flags=cv2.INTER_LINEAR,
                                              borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
                          for p in usable])
        votes = np.isfinite(stack).sum(axis=0)
        stack.sort(axis=0)  # NaNs (no coverage) sort last
        idx = np.clip((votes - 1) // 2, 0, len(usable) - 1)
        background = np.take_along_axis(stack, idx[None, :, :], axis=0)[0]
        mask = ((np.abs(cur - background) > self.threshold) & (votes >= self.min_votes)).astype(np.uint8) * 255
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        mask = cv2.dilate(mask, self._kernel, iterations=1)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        rects = []
        for c in contours:
            x, y, cw, ch = cv2.boundingRect(c)
            rects.append((int(x), int(y), int(cw), int(ch)))
        boxes = _merge(rects, self.merge_px)
        min_area = self.min_area_frac * hh * ww
        out = [Region(int(x / scale), int(y / scale), int((x + cw) / scale), int((y + ch) / scale))
               for x, y, cw, ch in boxes if cw * ch >= min_area]
        return sorted(out, key=lambda r: (r.y1, r.x1))


def _merge(boxes: list[tuple[int, int, int, int]], gap: int) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) closer than `gap` pixels joined: one object whose contrast dips in places
    splits into pieces, which would otherwise become tracks of their own.

    >>> _merge([(0, 0, 4, 4), (6, 0, 4, 4), (30, 30, 2, 2)], 3)
    [(0, 0, 10, 4), (30, 30, 2, 2)]
    """
    out = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                (ax, ay, aw, ah), (bx, by, bw, bh) = out[i], out[j]
                if ax - gap <= bx + bw and bx - gap <= ax + aw and ay - gap <= by + bh and by - gap <= ay + ah:
                    x, y = min(ax, bx), min(ay, by)
                    out[i] = (x, y, max(ax + aw, bx + bw) - x, max(ay + ah, by + bh) - y)
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return out
