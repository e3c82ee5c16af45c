"""Corroboration: a corridor's rule event waits for `min_sensors` sensors, at most `confirm_s` of event time.

Pure and in event time. An event on a corridor that asks for corroboration is held until the
subject's world track has been seen by enough distinct sensors (then it goes on with its own
time, so the alert opens when the rule fired, deterministically), or dropped, and counted, once
`confirm_s` has passed without them.

>>> from datetime import UTC, datetime, timedelta
>>> from shapely.geometry import LineString
>>> from routewatch.model import Corridor, CorridorKind, EventKind, RuleEvent
>>> line = Corridor("gate", LineString([(0, 0), (0, 1)]), CorridorKind.LINE, min_sensors=2, confirm_s=10)
>>> c = Corroboration([line])
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> ev = RuleEvent(EventKind.CROSS, t, "w-1", "person", "gate", 1, 0, 0, sensors=("cam-a/7",))
>>> c.admit(ev)
[]
>>> [e.sensors for e in c.seen("w-1", ("cam-a/7", "cam-b/2"), t + timedelta(seconds=3))]
[('cam-a/7', 'cam-b/2')]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from routewatch.model import Corridor, EventKind, RuleEvent

# Events that end a condition: they never wait, and they drop the held event they would end.
_ENDS = {EventKind.EXIT: EventKind.ENTER, EventKind.RETURN: EventKind.BREACH}


def sensor_count(sensors: Sequence[str]) -> int:
    """Distinct sensors among sensor track ids ("cam-a/7" and "cam-a/9" are one camera).

    >>> sensor_count(("cam-a/7", "cam-a/9", "patrol/t3"))
    2
    """
    return len({s.rpartition("/")[0] or s for s in sensors})


class Corroboration:
    """Holds rule events of corridors with `min_sensors` until enough sensors saw the subject."""

    def __init__(self, corridors: Sequence[Corridor]) -> None:
        self._need: dict[str, tuple[int, float]] = {}
        self._held: dict[str, list[tuple[datetime, RuleEvent]]] = {}
        self.dropped = 0
        self.set_corridors(corridors)

    def set_corridors(self, corridors: Sequence[Corridor]) -> None:
        """Which corridors ask for corroboration (held events of other corridors stay held until due)."""
        self._need = {c.id: (c.min_sensors, c.confirm_s or 0.0) for c in corridors
                      if c.min_sensors is not None and c.min_sensors > 1}

    @property
    def active(self) -> bool:
        """Whether any corridor asks for corroboration, or any event is held."""
        return bool(self._need or self._held)

    def admit(self, ev: RuleEvent) -> list[RuleEvent]:
        """The events that go on now: `ev` itself, or nothing while it waits (or when it ends a held one)."""
        need = self._need.get(ev.corridor_id)
        if need is None or sensor_count(ev.sensors) >= need[0]:
            return [ev]
        held = self._held.get(ev.subject_id, [])
        opened = _ENDS.get(ev.kind)
        if opened is not None:
            # The condition ended before it was corroborated: the held opening and its end both go.
            keep = [(d, h) for d, h in held if not (h.corridor_id == ev.corridor_id and h.kind is opened)]
            if len(keep) != len(held):
                self.dropped += len(held) - len(keep)
                self._store(ev.subject_id, keep)
                return []
            return [ev]
        held.append((ev.time + timedelta(seconds=need[1]), ev))
        self._held[ev.subject_id] = held
        return []

    def seen(self, subject_id: str, sensors: tuple[str, ...], time: datetime) -> list[RuleEvent]:
        """The subject was seen at `time` by `sensors` (so far): release or expire its held events."""
        held = self._held.get(subject_id)
        if not held:
            return []
        n = sensor_count(sensors)
        out: list[RuleEvent] = []
        keep: list[tuple[datetime, RuleEvent]] = []
        for due, ev in held:
            need = self._need.get(ev.corridor_id, (1, 0.0))[0]
            if n >= need and time <= due:
                out.append(dataclasses.replace(ev, sensors=tuple(sorted(set(ev.sensors) | set(sensors)))))
            elif time > due:
                self.dropped += 1
            else:
                keep.append((due, ev))
        self._store(subject_id, keep)
        return out

    def expire(self, now: datetime) -> int:
        """Drop held events due before `now` (subjects no longer seen); returns how many."""
        n = 0
        for sid in list(self._held):
            keep = [(d, e) for d, e in self._held[sid] if d >= now]
            n += len(self._held[sid]) - len(keep)
            self._store(sid, keep)
        self.dropped += n
        return n

    def _store(self, subject_id: str, held: list[tuple[datetime, RuleEvent]]) -> None:
        if held:
            self._held[subject_id] = held
        else:
            self._held.pop(subject_id, None)
