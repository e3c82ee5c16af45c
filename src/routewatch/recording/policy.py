"""Retention decisions, pure: which segments of a camera to delete, given their ages, sizes and the alerts.

Each segment is kept `max_age_s` after it was recorded, or longer when it overlaps the window of an
alert that a tier counts ([opened - before_s, closed + after_s]): the longest age of the tiers it
meets wins. Past its age a segment is deleted ("age"). If what is left is over the disk budget, the
oldest go first, footage of no tier before footage of short tiers before long ones ("budget").

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 5, 1, tzinfo=UTC)
>>> segs = [SegmentFacts(i, t0 + timedelta(minutes=i), t0 + timedelta(minutes=i, seconds=59),
...                      t0 + timedelta(minutes=i + 1), 100) for i in range(4)]
>>> alert = Span(t0 + timedelta(minutes=1, seconds=30), t0 + timedelta(minutes=1, seconds=40), Severity.HIGH, True)
>>> rule = Rule(max_age_s=3600, max_bytes=None, tiers=(Tier(Severity.LOW, 0, 0, 86400),))
>>> plan(segs, [alert], rule, now=t0 + timedelta(hours=2))
[Doomed(id=0, reason='age'), Doomed(id=2, reason='age'), Doomed(id=3, reason='age')]
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from routewatch.config.recording import CameraRecordingConfig
from routewatch.model import Severity

_RANK = {s: i for i, s in enumerate(Severity)}


@dataclass(frozen=True, slots=True)
class SegmentFacts:
    """What retention needs of a segment: event-time span, when it was recorded (wall time), its size."""

    id: int
    start: datetime
    end: datetime
    created_at: datetime
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Span:
    """An alert's active time; `own`: raised on the camera's own tracks."""

    start: datetime
    end: datetime
    severity: Severity
    own: bool


@dataclass(frozen=True, slots=True)
class Tier:
    """Footage within [alert start - before_s, end + after_s] of alerts of `min_severity` or more kept `max_age_s`."""

    min_severity: Severity
    before_s: float
    after_s: float
    max_age_s: float
    scope: Literal["camera", "all"] = "camera"

    def counts(self, span: Span) -> bool:
        """Whether this tier counts the alert."""
        return _RANK[span.severity] >= _RANK[self.min_severity] and (self.scope == "all" or span.own)


@dataclass(frozen=True, slots=True)
class Rule:
    """A camera's retention: base age, disk budget (None: none) and alert tiers."""

    max_age_s: float
    max_bytes: int | None
    tiers: tuple[Tier, ...] = ()

    @classmethod
    def from_config(cls, cfg: CameraRecordingConfig) -> Rule:
        """From a camera's `recording` settings."""
        return cls(cfg.max_age_s, cfg.max_bytes, tuple(Tier(t.min_severity, t.before_s, t.after_s, t.max_age_s,
                                                            t.scope) for t in cfg.alert_tiers))

    def reach(self) -> timedelta:
        """How far from a segment an alert can be and still count (for querying alerts)."""
        return timedelta(seconds=max((max(t.before_s, t.after_s) for t in self.tiers), default=0.0))


@dataclass(frozen=True, slots=True)
class Doomed:
    """A segment to delete and why."""

    id: int
    reason: Literal["age", "budget"]


def _windows(spans: Sequence[Span], tier: Tier) -> tuple[list[datetime], list[datetime]]:
    """The tier's alert windows merged: sorted, non-overlapping (starts, ends)."""
    wins = sorted((s.start - timedelta(seconds=tier.before_s), max(s.start, s.end) + timedelta(seconds=tier.after_s))
                  for s in spans if tier.counts(s))
    starts: list[datetime] = []
    ends: list[datetime] = []
    for a, b in wins:
        if ends and a <= ends[-1]:
            ends[-1] = max(ends[-1], b)
        else:
            starts.append(a)
            ends.append(b)
    return starts, ends


def keep(segments: Sequence[SegmentFacts], spans: Sequence[Span], rule: Rule) -> list[tuple[float, int]]:
    """Per segment: (seconds to keep it after recording, rank): rank 0 for no tier, else 1 + the tier's order by age."""
    out = [(rule.max_age_s, 0)] * len(segments)
    by_age = sorted(range(len(rule.tiers)), key=lambda i: rule.tiers[i].max_age_s)
    for rank, i in enumerate(by_age, start=1):
        tier = rule.tiers[i]
        starts, ends = _windows(spans, tier)
        if not starts:
            continue
        for k, seg in enumerate(segments):
            j = bisect.bisect_right(starts, seg.end) - 1  # the last window starting by the segment's end
            if j >= 0 and ends[j] >= seg.start and tier.max_age_s >= out[k][0]:
                out[k] = (tier.max_age_s, rank)
    return out


def plan(segments: Sequence[SegmentFacts], spans: Sequence[Span], rule: Rule, now: datetime) -> list[Doomed]:
    """The segments to delete now (by id order within each reason: age first, then budget)."""
    if now.utcoffset() is None:
        raise ValueError(f"now must be tz-aware, got {now!r}")
    kept = keep(segments, spans, rule)
    doomed = [Doomed(s.id, "age") for s, (age_s, _) in zip(segments, kept, strict=True)
              if (now - s.created_at).total_seconds() > age_s]
    if rule.max_bytes is not None:
        gone = {d.id for d in doomed}
        left = [(rank, s.start, s.id, s.size_bytes)
                for s, (_, rank) in zip(segments, kept, strict=True) if s.id not in gone]
        total = sum(b for *_, b in left)
        for _, _, sid, size in sorted(left):
            if total <= rule.max_bytes:
                break
            doomed.append(Doomed(sid, "budget"))
            total -= size
    doomed.sort(key=lambda d: (d.reason != "age", d.id))
    return doomed
