"""Corroboration: a corridor's events wait for `min_sensors` sensors, at most `confirm_s` (table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import LineString, Polygon

from routewatch.model import Corridor, CorridorKind, EventKind, RuleEvent
from routewatch.pipeline.corroborate import Corroboration, sensor_count

T0 = datetime(2026, 12, 7, tzinfo=UTC)
GATE = Corridor("gate", LineString([(0, 0), (0, 1)]), CorridorKind.LINE, min_sensors=2, confirm_s=10)
YARD = Corridor("yard", Polygon([(0, 0), (1, 0), (1, 1)]), min_sensors=3, confirm_s=5)
PLAIN = Corridor("plain", LineString([(1, 0), (1, 1)]), CorridorKind.LINE)
A, B, C, A2 = "cam-a/7", "cam-b/2", "patrol/t3", "cam-a/9"


def ev(kind: EventKind, s: float, corridor: str, *sensors: str, subject: str = "w-1") -> RuleEvent:
    return RuleEvent(kind, T0 + timedelta(seconds=s), subject, "person", corridor, 1, 0.0, 0.0, sensors=sensors)


# (name, steps, admitted as (kind, seconds, sensors), dropped)
# A step is ("event", RuleEvent), ("seen", subject, seconds, sensors) or ("expire", seconds).
ROWS: list[tuple[str, list[tuple], list[tuple[EventKind, float, tuple[str, ...]]], int]] = [
    ("nothing", [], [], 0),
    ("a corridor without min_sensors: at once", [("event", ev(EventKind.CROSS, 0, "plain", A))],
     [(EventKind.CROSS, 0, (A,))], 0),
    ("enough sensors already: at once", [("event", ev(EventKind.CROSS, 0, "gate", A, B))],
     [(EventKind.CROSS, 0, (A, B))], 0),
    ("two tracks of one camera are one sensor", [("event", ev(EventKind.CROSS, 0, "gate", A, A2)),
                                                  ("expire", 11)], [], 1),
    ("held, then a second sensor in time: opens at the rule's time",
     [("event", ev(EventKind.CROSS, 0, "gate", A)), ("seen", "w-1", 4, (A, B))], [(EventKind.CROSS, 0, (A, B))], 0),
    ("held, the second sensor too late: dropped",
     [("event", ev(EventKind.CROSS, 0, "gate", A)), ("seen", "w-1", 10.5, (A, B))], [], 1),
    ("held, seen by the same sensor only: still held, then expired",
     [("event", ev(EventKind.CROSS, 0, "gate", A)), ("seen", "w-1", 3, (A,)), ("expire", 10.1)], [], 1),
    ("another subject's sensors do not count",
     [("event", ev(EventKind.CROSS, 0, "gate", A)), ("seen", "w-2", 3, (A, B)), ("expire", 11)], [], 1),
    ("exit before corroboration drops both enter and exit",
     [("event", ev(EventKind.ENTER, 0, "yard", A)), ("event", ev(EventKind.EXIT, 2, "yard", A))], [], 1),
    ("an exit with nothing held goes on",
     [("event", ev(EventKind.EXIT, 2, "yard", A))], [(EventKind.EXIT, 2, (A,))], 0),
    ("three sensors for the yard",
     [("event", ev(EventKind.ENTER, 0, "yard", A)), ("seen", "w-1", 1, (A, B)), ("seen", "w-1", 2, (A, B, C))],
     [(EventKind.ENTER, 0, (A, B, C))], 0),
    ("expire keeps what is not due",
     [("event", ev(EventKind.CROSS, 0, "gate", A)), ("expire", 9), ("seen", "w-1", 9.5, (A, C))],
     [(EventKind.CROSS, 0, (A, C))], 0),
]


@pytest.mark.parametrize(("steps", "admitted", "dropped"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_corroboration(steps: list[tuple], admitted: list[tuple], dropped: int) -> None:
    c = Corroboration([GATE, YARD, PLAIN])
    out: list[RuleEvent] = []
    for step in steps:
        if step[0] == "event":
            out.extend(c.admit(step[1]))
        elif step[0] == "seen":
            out.extend(c.seen(step[1], step[3], T0 + timedelta(seconds=step[2])))
        else:
            c.expire(T0 + timedelta(seconds=step[1]))
    assert [(e.kind, (e.time - T0).total_seconds(), e.sensors) for e in out] == admitted
    assert c.dropped == dropped


def test_inactive_without_corridors_that_ask() -> None:
    c = Corroboration([PLAIN])
    assert not c.active
    c.set_corridors([GATE])
    assert c.active


@pytest.mark.parametrize(("sensors", "n"), [((), 0), ((A,), 1), ((A, A2), 1), ((A, B, C), 3), (("solo",), 1)])
def test_sensor_count(sensors: tuple[str, ...], n: int) -> None:
    assert sensor_count(sensors) == n
