"""Frame-rate sampling in frame time: which frames of a camera are processed at a configured rate."""

from __future__ import annotations

import math
from datetime import datetime


class Sampler:
    """Lets through at most one frame per slot of 1/fps seconds of frame time; counts the others.

    Slots are counted from the first frame and a frame belongs to the nearest slot, so a source
    whose rate is not a multiple of `fps` still gives `fps` on average (10.04 fps sampled at 5 gives 5,
    not every third frame). A frame whose time goes backwards is skipped.

    >>> from datetime import UTC, timedelta
    >>> s, t0 = Sampler(5.0), datetime(2026, 1, 1, tzinfo=UTC)
    >>> [ms for ms in range(0, 1000, 100) if s.due(t0 + timedelta(milliseconds=ms))], s.skipped
    ([0, 200, 400, 600, 800], 5)
    """

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.period_s = 1.0 / fps
        self._t0: datetime | None = None
        self._last = -1
        self.skipped = 0

    def due(self, t: datetime) -> bool:
        """Whether the frame at time t is processed."""
        if self._t0 is None:
            self._t0 = t
        # Half-way frames go to the earlier slot (a hair below .5), not alternately as round() would.
        slot = math.floor((t - self._t0).total_seconds() / self.period_s + 0.5 - 1e-9)
        if slot <= self._last:
            self.skipped += 1
            return False
        self._last = slot
        return True
