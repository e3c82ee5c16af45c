"""Per-track and per-(track, corridor) rule state, mutated only by the engine."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from routewatch.model import Role


@dataclass(slots=True)
class PairState:
    """Hysteresis, dwell and along state of one subject in one area corridor."""

    inside: bool | None = None
    pending_t: datetime | None = None
    pending_ts: float = 0.0
    pending_lonlat: tuple[float, float] = (0.0, 0.0)
    pending_count: int = 0
    dwell_ts: float = 0.0
    dwell_fired: bool = False
    along_fired: bool = False
    last_s: float | None = None
    samples: deque[tuple[float, float]] = field(default_factory=deque)

    def quiescent(self) -> bool:
        """Nothing to remember: outside (or never seen inside) with no change pending."""
        return not self.inside and self.pending_t is None


@dataclass(slots=True)
class PendingCross:
    """A line crossing waiting for the subject to get clear of the line."""

    t: datetime
    lon: float
    lat: float
    left_to_right: bool
    heading_deg: float | None
    speed_m_s: float | None


@dataclass(slots=True)
class TrackState:
    """What the engine remembers of one subject."""

    subject_id: str
    subject_class: str
    role: Role
    t: datetime
    ts: float
    x: float
    y: float
    lon: float
    lat: float
    anchor_x: float
    anchor_y: float
    cell: int
    max_speed: float = 0.0
    rejected: int = 0
    rejected_x: float = 0.0
    rejected_y: float = 0.0
    rejected_ts: float = 0.0
    course_dx: float = 0.0
    course_dy: float = 0.0
    reported_heading: float | None = None
    speed_m_s: float | None = None
    pairs: dict[int, PairState] = field(default_factory=dict)
    crossings: dict[int, PendingCross] = field(default_factory=dict)
    applies: dict[int, bool] = field(default_factory=dict)
    op_areas: tuple[int, ...] | None = None

    @property
    def course_deg(self) -> float | None:
        """Course over ground from the last displacement above the noise floor, else as reported."""
        if self.course_dx or self.course_dy:
            return math.degrees(math.atan2(self.course_dx, self.course_dy)) % 360.0
        return self.reported_heading
