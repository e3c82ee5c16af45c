"""Linear referencing along a corridor centre-line in a local metric frame."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from routewatch.geo.crs import bearing_deg


class CentreLine:
    """A polyline in metres with cumulative distance and per-segment bearings.

    >>> c = CentreLine([(0.0, 0.0), (100.0, 0.0), (100.0, 100.0)])
    >>> c.length, c.locate(50.0, 3.0)[0], c.bearing(c.locate(101.0, 50.0)[1])
    (200.0, 50.0, 0.0)
    """

    __slots__ = ("_xs", "_ys", "bearings", "cum", "length")

    def __init__(self, coords: Sequence[tuple[float, float]]) -> None:
        pts = [(float(x), float(y)) for x, y in coords]
        # Drop repeated vertices: zero-length segments have no bearing.
        dedup = [pts[0]] if pts else []
        for p in pts[1:]:
            if p != dedup[-1]:
                dedup.append(p)
        if len(dedup) < 2:
            raise ValueError("a centre-line needs two distinct points")
        self._xs = [p[0] for p in dedup]
        self._ys = [p[1] for p in dedup]
        self.cum = [0.0]
        self.bearings: list[float] = []
        for i in range(len(dedup) - 1):
            dx = self._xs[i + 1] - self._xs[i]
            dy = self._ys[i + 1] - self._ys[i]
            self.cum.append(self.cum[-1] + math.hypot(dx, dy))
            self.bearings.append(bearing_deg(dx, dy))
        self.length = self.cum[-1]

    def bearing(self, seg: int) -> float:
        """Compass bearing of segment `seg` in vertex order."""
        return self.bearings[seg]

    def locate(self, x: float, y: float, near_s: float | None = None, window_m: float = 0.0) -> tuple[float, int]:
        """Distance along the line of the closest point, and its segment index.

        With `near_s`, only segments within `window_m` of that distance are searched, so a
        corridor that loops back near itself does not make the position jump.
        """
        lo, hi = 0, len(self.bearings) - 1
        if near_s is not None:
            lo = max(0, bisect.bisect_right(self.cum, near_s - window_m) - 1)
            hi = min(hi, bisect.bisect_left(self.cum, near_s + window_m))
        best_d2 = math.inf
        best_s = 0.0
        best_i = lo
        xs, ys, cum = self._xs, self._ys, self.cum
        for i in range(lo, hi + 1):
            ax, ay = xs[i], ys[i]
            dx, dy = xs[i + 1] - ax, ys[i + 1] - ay
            seg2 = dx * dx + dy * dy
            t = ((x - ax) * dx + (y - ay) * dy) / seg2
            t = 0.0 if t < 0.0 else 1.0 if t > 1.0 else t
            px, py = ax + t * dx - x, ay + t * dy - y
            d2 = px * px + py * py
            if d2 < best_d2:
                best_d2, best_i = d2, i
                best_s = cum[i] + t * (cum[i + 1] - cum[i])
        return best_s, best_i
