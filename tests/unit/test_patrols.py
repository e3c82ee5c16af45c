"""Patrols to replay (routewatch.replay.patrols): sorties cut from fixes, the cameras of a sortie, area boxes."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import box

import routewatch.replay.patrols
from routewatch.geo.bbox import BBox
from routewatch.geo.footprint import Footprint
from routewatch.model import Observation, Role
from routewatch.replay.patrols import (
    PatrolError,
    Recorded,
    Sortie,
    distance_m,
    following,
    pick_camera,
    recorded_during,
    seen_by,
    sorties,
)

T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
S = timedelta(seconds=1)
GAP = timedelta(seconds=120)


def fix(subject: str, s: float, lon: float = 5.0, lat: float = 52.0) -> Observation:
    return Observation(subject, T0 + s * S, lon, lat, alt_m=100.0, subject_class="drone", role=Role.PATROL)


def summary(found: list[Sortie]) -> list[tuple[str, float, float, int]]:
    return [(x.drone, (x.start - T0) / S, (x.end - T0) / S, x.count) for x in found]


def test_the_doctests_hold() -> None:
    assert doctest.testmod(routewatch.replay.patrols).failed == 0


@pytest.mark.parametrize(("fixes", "expected"), [
    ([], []),
    ([fix("uav/1", 0)], [("uav/1", 0, 0, 1)]),
    ([fix("uav/1", s) for s in (0, 1, 2, 3)], [("uav/1", 0, 3, 4)]),
    # A gap of exactly the threshold keeps the run; one past it cuts it.
    ([fix("uav/1", s) for s in (0, 120, 240.001, 250)], [("uav/1", 0, 120, 2), ("uav/1", 240.001, 250, 2)]),
    # Two drones flying at once, interleaved as the store gives them (by time): one sortie each.
    ([fix(d, s) for s in range(5) for d in ("uav/2", "uav/1")], [("uav/1", 0, 4, 5), ("uav/2", 0, 4, 5)]),
    # By start, then drone: uav/2 took off first.
    ([fix("uav/2", 0), fix("uav/1", 10), fix("uav/2", 500), fix("uav/1", 501)],
     [("uav/2", 0, 0, 1), ("uav/1", 10, 10, 1), ("uav/2", 500, 500, 1), ("uav/1", 501, 501, 1)]),
    # Two fixes at the same time are in order.
    ([fix("uav/1", 0), fix("uav/1", 0), fix("uav/1", 1)], [("uav/1", 0, 1, 3)]),
])
def test_sorties_are_runs_without_a_long_gap(fixes: list[Observation], expected: list[tuple[str, float, float, int]]
                                             ) -> None:
    assert summary(sorties(fixes, GAP)) == expected


@pytest.mark.parametrize(("fixes", "gap", "says"), [
    ([fix("uav/1", 5), fix("uav/1", 4)], GAP, "not in time order"),
    # Another drone's later fix in between does not hide the disorder.
    ([fix("uav/1", 5), fix("uav/2", 9), fix("uav/1", 1)], GAP, "uav/1"),
    ([fix("uav/1", 0)], timedelta(0), "positive"),
    ([], -S, "positive"),
])
def test_bad_input_is_refused(fixes: list[Observation], gap: timedelta, says: str) -> None:
    with pytest.raises(PatrolError, match=says):
        sorties(fixes, gap)


def test_a_sortie_knows_its_box_and_whether_it_touches_an_area() -> None:
    (s,) = sorties([fix("uav/1", 0, 5.0, 52.0), fix("uav/1", 1, 5.01, 52.02), fix("uav/1", 2, 4.99, 52.01)], GAP)
    assert s.bbox == BBox(4.99, 52.0, 5.01, 52.02)
    assert s.touches(BBox(5.005, 52.015, 5.1, 52.1))
    assert s.touches(BBox(5.01, 52.02, 5.1, 52.1))  # the border counts
    assert not s.touches(BBox(5.0001, 52.0001, 5.0002, 52.0002))  # inside its box, but no fix there


def square(lon: float, lat: float, half: float = 0.001) -> object:
    return box(lon - half, lat - half, lon + half, lat + half)


def drone_fp(camera: str, s: float, lon: float, lat: float, length: float = 5) -> Footprint:
    return Footprint(camera, T0 + s * S, T0 + (s + length) * S, square(lon, lat), "drone")


def test_distance_to_a_footprint_is_in_metres() -> None:
    fp = drone_fp("c", 0, 5.0, 52.0)
    assert distance_m(fp, 5.0, 52.0) == 0.0
    # 0.01 deg of latitude north of the square's north edge (52.001): about 1106 m.
    assert distance_m(fp, 5.0, 52.011) == pytest.approx(1105.7, abs=1.0)


# Drone 1 flies east along 52.00 for 60 s, drone 2 along 52.10 (11 km north) at the same time.
ONE = [fix("uav/1", s, 5.0 + s * 1e-4, 52.0) for s in range(61)]
TWO = [fix("uav/2", s, 5.0 + s * 1e-4, 52.1) for s in range(61)]


@pytest.mark.parametrize(("fps", "expected"), [
    ([], ()),
    # Its own camera's samples lie under drone 1; the other's under drone 2: only "cam1" follows drone 1.
    ([drone_fp("cam1", s, 5.0 + s * 1e-4, 52.0) for s in range(0, 60, 5)]
     + [drone_fp("cam2", s, 5.0 + s * 1e-4, 52.1) for s in range(0, 60, 5)], ("cam1",)),
    # Two cameras on drone 1: the one with more matching samples first.
    ([drone_fp("b", s, 5.0 + s * 1e-4, 52.0) for s in range(0, 60, 5)]
     + [drone_fp("a", s, 5.0 + s * 1e-4, 52.0) for s in range(0, 60, 20)], ("b", "a")),
    # Fixed cameras never follow; samples outside the sortie's time do not count.
    ([Footprint("gate", T0, T0 + 60 * S, square(5.003, 52.0), "fixed"), drone_fp("late", 100, 5.0, 52.0)], ()),
    # Near for less than half of its samples (a glimpse while crossing): not following.
    ([drone_fp("x", 0, 5.0, 52.0)] + [drone_fp("x", s, 5.0, 52.1) for s in range(5, 60, 5)], ()),
])
def test_following_cameras_lie_near_the_drone(fps: list[Footprint], expected: tuple[str, ...]) -> None:
    (one,) = sorties(ONE, GAP)
    assert following(one, fps) == expected
    if "cam2" in {f.camera for f in fps}:
        (two,) = sorties(TWO, GAP)
        assert following(two, fps) == ("cam2",)


def test_a_sample_far_in_time_from_any_fix_does_not_match() -> None:
    (s,) = sorties([fix("uav/1", 0, 5.0, 52.0), fix("uav/1", 100, 5.0, 52.0)], GAP)
    assert following(s, [drone_fp("c", 50, 5.0, 52.0)]) == ()
    assert following(s, [drone_fp("c", 95, 5.0, 52.0)]) == ("c",)


@pytest.mark.parametrize(("fps", "expected"), [
    ([], ()),
    # The drone passes over the gate camera's view (lon 5.003 at s=30) while it is in force.
    ([Footprint("gate", T0, T0 + 60 * S, square(5.003, 52.0, 0.0002), "fixed")], ("gate",)),
    # ... but not while that footprint was in force (end is exclusive: [40, 60) misses s=30).
    ([Footprint("gate", T0 + 40 * S, T0 + 60 * S, square(5.003, 52.0, 0.0002), "fixed")], ()),
    # A fixed camera looking elsewhere; a drone camera is not "seen by".
    ([Footprint("far", T0, T0 + 60 * S, square(6.0, 52.0), "fixed"), drone_fp("d", 0, 5.0, 52.0)], ()),
])
def test_seen_by_fixed_cameras(fps: list[Footprint], expected: tuple[str, ...]) -> None:
    (one,) = sorties(ONE, GAP)
    assert seen_by(one, fps) == expected


def span(a: float, b: float) -> tuple[datetime, datetime]:
    return T0 + a * S, T0 + b * S


@pytest.mark.parametrize(("spans", "expected"), [
    ({}, ()),
    ({"a": []}, ()),
    ({"a": [span(-10, -1)]}, ()),
    # Touching either end counts; starting just after the end does not.
    ({"a": [span(-10, 0)], "b": [span(60, 70)], "c": [span(61, 70)]}, ("a", "b")),
    ({"z": [span(-10, -1), span(20, 21)]}, ("z",)),
    ({"z": [span(-10, -1), span(61, 62), span(70, 80)]}, ()),  # one before, two after: none during
    # A long span that began before a later short one, which ended before the sortie: still recording then.
    ({"long": [span(-100, 200), span(-50, -40)]}, ("long",)),
    ({"long": [span(-50, -40), span(-100, 5)]}, ("long",)),  # in any order
    ({"b": [span(30, 31)], "a": [span(59, 59)]}, ("a", "b")),  # by name
])
def test_recorded_during(spans: dict[str, list[tuple[datetime, datetime]]], expected: tuple[str, ...]) -> None:
    assert recorded_during(Recorded.of(spans), T0, T0 + 60 * S) == expected


def test_recorded_during_matches_a_scan_of_every_span() -> None:
    """Against the plain definition (some span with a <= end and b >= start), over many spans and windows."""
    spans = {f"c{k}": [span((i * 397 + k * 131) % 2000, (i * 397 + k * 131) % 2000 + (i * 13) % 40)
                       for i in range(20)] for k in range(4)}  # in no order, some overlapping
    index = Recorded.of(spans)
    for a in range(-50, 2100, 7):  # windows that see none, one or two cameras
        start, end = T0 + a * S, T0 + (a + a % 9) * S
        scan = tuple(sorted(c for c, ss in spans.items() if any(x <= end and y >= start for x, y in ss)))
        assert recorded_during(index, start, end) == scan, a


@pytest.mark.parametrize(("follow", "recorded", "expected"), [
    ((), (), None),
    ((), ("gate",), None),
    (("a", "b"), (), "a"),
    (("a", "b"), ("b", "gate"), "b"),
])
def test_the_camera_to_replay_with(follow: tuple[str, ...], recorded: tuple[str, ...], expected: str | None) -> None:
    assert pick_camera(follow, recorded) == expected
