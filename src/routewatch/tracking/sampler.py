"""Frame-rate sampling in frame time: which frames of a camera are processed at a configured rate."""

from __future__ import annotations

import math
from datetime import datetime


class Sampler:
    """Lets through at most one frame per slot of 1/fps seconds of frame time; counts the others.

    Slots are counted from the first frame and a frame belongs to the nearest slot, so a source
    whose rate is not a multiple of `fps` still gives `fps` on average (10.04 fps sampled at 5 gives 5,
    not every third frame). A frame whose time goes back a little is skipped; a jump of more than
    `jump_s` either way (a clock step, one badly stamped frame) restarts the count there, so one bad
    time cannot blind the camera for as long as the jump.

    >>> from datetime import UTC, timedelta
    >>> s, t0 = Sampler(5.0), datetime(2026, 1, 1, tzinfo=UTC)
    >>> [ms for ms in range(0, 1000, 100) if s.due(t0 + timedelta(milliseconds=ms))], s.skipped
    ([0, 200, 400, 600, 800], 5)
    """

    def __init__(self, fps: float, jump_s: float = 5.0) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if not jump_s > 0:
            raise ValueError(f"jump_s must be > 0, got {jump_s}")
        self.period_s = 1.0 / fps
        self.jump_s = max(jump_s, 2 * self.period_s)
        self._t0: datetime | None = None
        self._prev: datetime | None = None
        self._last = -1
        self.skipped = 0
        self.restarts = 0

    def due(self, t: datetime) -> bool:
        """Whether the frame at time t is processed."""
        if self._prev is not None and abs((t - self._prev).total_seconds()) > self.jump_s:
            self._t0, self._last = None, -1
            self.restarts += 1
        self._prev = t
        if self._t0 is None:
            self._t0 = t
        # Half-way frames go to the earlier slot (a hair below .5), not alternately as round() would.
        slot = math.floor((t - self._t0).total_seconds() / self.period_s + 0.5 - 1e-9)
        if slot <= self._last:
            self.skipped += 1
            return False
        self._last = slot
        return True
