"""The accuracy metrics alone, as tables: GOSPA, id switches, alerts per true crossing."""

from __future__ import annotations

import doctest
import math

import pytest

from routewatch.analysis import trackmetrics
from routewatch.analysis.trackmetrics import (
    AlertAt,
    Crossing,
    gospa,
    id_switches,
    id_transfers,
    match_alerts,
    mean_gospa,
)

C = 10.0

GOSPA_CASES = [
    # id, truth, estimates, p, expected distance, missed, false
    ("empty", [], [], 2, 0.0, 0, 0),
    ("perfect", [(0.0, 0.0), (100.0, 0.0)], [(100.0, 0.0), (0.0, 0.0)], 2, 0.0, 0, 0),
    ("localisation only", [(0.0, 0.0)], [(3.0, 4.0)], 2, 5.0, 0, 0),
    ("localisation, p=1", [(0.0, 0.0), (50.0, 0.0)], [(3.0, 4.0), (50.0, 1.0)], 1, 6.0, 0, 0),
    ("one miss", [(0.0, 0.0), (50.0, 0.0)], [(0.0, 0.0)], 2, math.sqrt(C**2 / 2), 1, 0),
    ("one false track", [(0.0, 0.0)], [(0.0, 0.0), (-40.0, 0.0)], 2, math.sqrt(C**2 / 2), 0, 1),
    ("one false track, p=1", [], [(1.0, 1.0)], 1, C / 2, 0, 1),
    # An estimate beyond c is no localisation: it is one miss plus one false track.
    ("beyond c is a miss and a false", [(0.0, 0.0)], [(30.0, 0.0)], 2, C, 1, 1),
    ("optimal, not greedy, assignment", [(0.0, 0.0), (4.0, 0.0)], [(2.0, 0.0), (6.0, 0.0)], 2, math.sqrt(8.0), 0, 0),
]


@pytest.mark.parametrize(("truth", "est", "p", "want", "missed", "false"), [c[1:] for c in GOSPA_CASES],
                         ids=[c[0] for c in GOSPA_CASES])
def test_gospa(truth, est, p, want, missed, false) -> None:
    g = gospa(truth, est, c=C, p=p)
    assert g.distance == pytest.approx(want)
    assert (g.missed, g.false) == (missed, false)


@pytest.mark.parametrize(("c", "p"), [(0.0, 2), (-1.0, 2), (10.0, 3), (10.0, 0.5)])
def test_gospa_refuses_bad_parameters(c: float, p: float) -> None:
    with pytest.raises(ValueError, match="GOSPA needs"):
        gospa([(0.0, 0.0)], [(0.0, 0.0)], c=c, p=p)


def test_mean_gospa_averages_steps_and_is_zero_without_steps() -> None:
    steps = [([(0.0, 0.0)], [(0.0, 0.0)]), ([(0.0, 0.0)], [])]  # perfect, then one miss
    assert mean_gospa(steps, c=C) == pytest.approx(math.sqrt(C**2 / 2) / 2)
    assert mean_gospa([], c=C) == 0.0


T = {"t1": (0.0, 0.0)}
T2 = {"t1": (0.0, 0.0), "t2": (100.0, 0.0)}
SWITCH_CASES = [
    # id, steps, expected switches per truth
    ("empty", [], {}),
    ("perfect", [(T, {"w1": (1.0, 0.0)})] * 5, {"t1": 0}),
    ("never estimated", [(T, {})] * 3, {"t1": 0}),
    ("one switch", [(T, {"w1": (1.0, 0.0)}), (T, {"w2": (1.0, 0.0)}), (T, {"w2": (0.0, 1.0)})], {"t1": 1}),
    ("back and forth is two", [(T, {"w1": (0, 0)}), (T, {"w2": (0, 0)}), (T, {"w1": (0, 0)})], {"t1": 2}),
    ("a gap under the same id is no switch", [(T, {"w1": (0.0, 0.0)}), (T, {}), (T, {"w1": (0.0, 0.0)})],
     {"t1": 0}),
    ("a false track beside is no switch", [(T, {"w1": (0.0, 0.0), "w9": (50.0, 0.0)})] * 3, {"t1": 0}),
    ("an estimate beyond c is not assigned", [(T, {"w1": (0.0, 0.0)}), (T, {"w2": (30.0, 0.0)})], {"t1": 0}),
    # CLEAR MOT: an id still within c is kept even when another estimate is closer (no flip-flop).
    ("a still-valid id is kept", [(T, {"w1": (0.0, 0.0)}), (T, {"w1": (4.0, 0.0), "w2": (0.5, 0.0)})], {"t1": 0}),
    ("an id drifting beyond c is replaced", [(T, {"w1": (0.0, 0.0)}), (T, {"w1": (12.0, 0.0), "w2": (0.5, 0.0)})],
     {"t1": 1}),
    ("first assignment is optimal", [(T, {"w1": (4.0, 0.0), "w2": (0.5, 0.0)}), (T, {"w2": (0.5, 0.0)})],
     {"t1": 0}),
    ("two truths, ids swapped once", [(T2, {"w1": (0, 0), "w2": (100, 0)}), (T2, {"w2": (0, 0), "w1": (100, 0)})],
     {"t1": 1, "t2": 1}),
]


@pytest.mark.parametrize(("steps", "want"), [c[1:] for c in SWITCH_CASES], ids=[c[0] for c in SWITCH_CASES])
def test_id_switches(steps, want) -> None:
    assert id_switches(steps, c=C) == want


A, B = {"t1": (0.0, 0.0)}, {"t2": (40.0, 0.0)}
TRANSFER_CASES = [
    # id, steps, expected transfers per estimate id
    ("empty", [], {}),
    ("perfect", [(T2, {"w1": (0, 0), "w2": (100, 0)})] * 3, {"w1": 0, "w2": 0}),
    ("a false track is no transfer", [(T, {"w1": (0, 0), "w9": (50, 0)})] * 2, {"w1": 0, "w9": 0}),
    ("a lost track's id taken over by another thing", [(A, {"w1": (0, 0)}), (B, {}), (B, {"w1": (40, 0)})],
     {"w1": 1}),
    ("a new id for the newcomer is no transfer", [(A, {"w1": (0, 0)}), (B, {"w2": (40, 0)})], {"w1": 0, "w2": 0}),
    ("two truths, ids swapped once", [(T2, {"w1": (0, 0), "w2": (100, 0)}), (T2, {"w2": (0, 0), "w1": (100, 0)})],
     {"w1": 1, "w2": 1}),
]


@pytest.mark.parametrize(("steps", "want"), [c[1:] for c in TRANSFER_CASES], ids=[c[0] for c in TRANSFER_CASES])
def test_id_transfers(steps, want) -> None:
    assert id_transfers(steps, c=C) == want


X1 = Crossing("walker|border", "border", "cross", 100.0, 0.0, 10.0)
X2 = Crossing("car|border", "border", "cross", 105.0, 0.0, -60.0)
X3 = Crossing("walker|track-7", "track-7", "enter", 120.0, 40.0, 10.0)


def alert(aid: str, t: float, y: float, corridor: str = "border", kind: str = "cross", x: float = 0.0) -> AlertAt:
    return AlertAt(aid, corridor, kind, t, x, y)


MATCH_CASES = [
    # id, crossings, alerts, per crossing, unmatched, alerts per crossing
    ("empty", [], [], {}, (), math.nan),
    ("no alerts: all missed", [X1, X3], [], {X1.key: (), X3.key: ()}, (), 0.0),
    ("perfect", [X1, X2, X3], [alert("a", 101, 11), alert("b", 104, -59), alert("c", 125, 9, "track-7", "enter", 41)],
     {X1.key: ("a",), X2.key: ("b",), X3.key: ("c",)}, (), 1.0),
    ("one miss", [X1, X2], [alert("a", 101, 11)], {X1.key: ("a",), X2.key: ()}, (), 0.5),
    ("a duplicate (two sensors)", [X1], [alert("a", 101, 11), alert("b", 102, 9)], {X1.key: ("a", "b")}, (), 2.0),
    ("a false alert far in time", [X1], [alert("a", 101, 11), alert("f", 300, 10)], {X1.key: ("a",)}, ("f",), 2.0),
    ("a false alert far in space", [X1], [alert("f", 100, 80)], {X1.key: ()}, ("f",), 1.0),
    ("wrong kind is not a match", [X3], [alert("a", 120, 10, "track-7", "cross", 40)], {X3.key: ()}, ("a",), 1.0),
    ("wrong corridor is not a match", [X1], [alert("a", 100, 10, "other")], {X1.key: ()}, ("a",), 1.0),
    # Two crossings of one line 5 s apart, 70 m apart: place decides, not only time.
    ("nearest in time and place", [X1, X2], [alert("b", 101, -58), alert("a", 104, 12)],
     {X1.key: ("a",), X2.key: ("b",)}, (), 1.0),
]


@pytest.mark.parametrize(("crossings", "alerts", "per", "unmatched", "apc"), [c[1:] for c in MATCH_CASES],
                         ids=[c[0] for c in MATCH_CASES])
def test_match_alerts(crossings, alerts, per, unmatched, apc) -> None:
    m = match_alerts(crossings, alerts, window_s=30.0, radius_m=40.0)
    assert m.per_crossing == per
    assert m.unmatched == unmatched
    if math.isnan(apc):
        assert math.isnan(m.alerts_per_crossing)
    else:
        assert m.alerts_per_crossing == apc
    assert m.missed() == sum(1 for v in per.values() if not v)


def test_missed_counts_only_the_named_crossings() -> None:
    m = match_alerts([X1, X2], [alert("a", 101, 11)], window_s=30.0, radius_m=40.0)
    assert (m.missed([X1.key]), m.missed([X2.key]), m.missed([])) == (0, 1, 0)


@pytest.mark.parametrize(("window", "radius", "crossings", "match"), [
    (0.0, 40.0, [X1], "must be > 0"),
    (30.0, -1.0, [X1], "must be > 0"),
    (30.0, 40.0, [X1, X1], "unique"),
])
def test_match_alerts_refuses(window: float, radius: float, crossings: list[Crossing], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        match_alerts(crossings, [], window_s=window, radius_m=radius)


def test_doctests() -> None:
    assert doctest.testmod(trackmetrics).failed == 0
