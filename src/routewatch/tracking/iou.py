"""A small IoU tracker: boxes per frame in, the same boxes with stable track ids out (motion blobs, no model)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from routewatch.model import Box


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes.

    >>> iou(Box(0, 0, 2, 2), Box(1, 0, 3, 2))
    0.3333333333333333
    """
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = ix * iy
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


@dataclass(slots=True)
class _Track:
    box: Box
    hits: int = 1
    missed: int = 0


@dataclass(slots=True)
class IouTracker:
    """Greedy IoU association; a track is reported once it has `min_hits` and kept `max_missed` frames."""

    min_iou: float = 0.2
    min_hits: int = 3
    max_missed: int = 10
    _tracks: dict[int, _Track] = field(default_factory=dict)
    _next: int = 1

    def update(self, boxes: Sequence[Box]) -> list[Box]:
        """Associate this frame's boxes; returns the confirmed tracks seen in it, each box with its track id."""
        pairs = sorted(((iou(t.box, b), tid, j) for tid, t in self._tracks.items() for j, b in enumerate(boxes)),
                       key=lambda p: (-p[0], p[1], p[2]))
        used_t: set[int] = set()
        used_b: set[int] = set()
        for score, tid, j in pairs:
            if score < self.min_iou or tid in used_t or j in used_b:
                continue
            t = self._tracks[tid]
            t.box, t.hits, t.missed = boxes[j], t.hits + 1, 0
            used_t.add(tid)
            used_b.add(j)
        for tid in [t for t in self._tracks if t not in used_t]:
            self._tracks[tid].missed += 1
            if self._tracks[tid].missed > self.max_missed:
                del self._tracks[tid]
        for j, b in enumerate(boxes):
            if j not in used_b:
                self._tracks[self._next] = _Track(b)
                used_t.add(self._next)
                self._next += 1
        return [replace(self._tracks[tid].box, track=str(tid)) for tid in sorted(used_t)
                if tid in self._tracks and self._tracks[tid].hits >= self.min_hits and not self._tracks[tid].missed]
