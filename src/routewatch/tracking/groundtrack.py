"""Tracking on the ground plane (metres), for cameras that move: image boxes of one object drift
with the camera, its ground position does not. Greedy nearest-neighbour association with a
constant-velocity prediction and a distance gate. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Track:
    x: float
    y: float
    t: float
    vx: float = 0.0
    vy: float = 0.0
    hits: int = 1
    missed: int = 0


@dataclass(slots=True)
class GroundTracker:
    """Points (x, y) in metres per frame in, stable track ids out once a track has min_hits.

    >>> tr = GroundTracker(min_hits=2)
    >>> tr.update(0.0, [(0.0, 0.0)]), tr.update(1.0, [(1.0, 0.0), (50.0, 0.0)])
    ([], [(1, 0)])
    """

    gate_m: float = 4.0
    max_speed_m_s: float = 40.0
    min_hits: int = 3
    max_missed: int = 5
    max_age_s: float = 3.0
    _tracks: dict[int, _Track] = field(default_factory=dict)
    _next: int = 1

    def update(self, t: float, points: Sequence[tuple[float, float]]) -> list[tuple[int, int]]:
        """Associate this frame's points (time t in seconds); returns (track id, point index) of confirmed tracks."""
        pairs = []
        for tid, tr in self._tracks.items():
            dt = t - tr.t
            px, py = tr.x + tr.vx * dt, tr.y + tr.vy * dt
            for j, (x, y) in enumerate(points):
                d = math.hypot(x - px, y - py)
                if d <= self.gate_m:
                    pairs.append((d, tid, j))
        pairs.sort()
        used_t: set[int] = set()
        used_p: set[int] = set()
        out = []
        for _, tid, j in pairs:
            if tid in used_t or j in used_p:
                continue
            tr = self._tracks[tid]
            x, y = points[j]
            dt = t - tr.t
            if dt > 0:
                vx, vy = (x - tr.x) / dt, (y - tr.y) / dt
                if math.hypot(vx, vy) <= self.max_speed_m_s:
                    # Smoothed: a box edge jitters by a pixel or two between frames.
                    tr.vx, tr.vy = (tr.vx + vx) / 2.0 if tr.hits > 1 else vx, (tr.vy + vy) / 2.0 if tr.hits > 1 else vy
            tr.x, tr.y, tr.t, tr.hits, tr.missed = x, y, t, tr.hits + 1, 0
            used_t.add(tid)
            used_p.add(j)
            if tr.hits >= self.min_hits:
                out.append((tid, j))
        for tid in [k for k in self._tracks if k not in used_t]:
            tr = self._tracks[tid]
            tr.missed += 1
            if tr.missed > self.max_missed or t - tr.t > self.max_age_s:
                del self._tracks[tid]
        for j, (x, y) in enumerate(points):
            if j not in used_p:
                self._tracks[self._next] = _Track(x, y, t)
                if self.min_hits <= 1:
                    out.append((self._next, j))
                self._next += 1
        return sorted(out)
