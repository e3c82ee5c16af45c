"""The scenario generator: deterministic, time-ordered, its truth and crossings consistent."""

from __future__ import annotations

import doctest
import itertools
import math

import pytest

from routewatch.analysis import scenario
from routewatch.analysis.scenario import T0, ScenarioSpec, generate, handoff, mixed, overlapping
from routewatch.model import EventKind, Role

SPECS = [overlapping(1, 3), overlapping(4, 3), overlapping(3, 3, breaks=False), handoff(3), mixed(3)]


@pytest.fixture(scope="module", params=SPECS, ids=[s.name for s in SPECS])
def sc(request: pytest.FixtureRequest) -> scenario.Scenario:
    return generate(request.param)


def test_same_seed_same_scenario_other_seed_other(sc: scenario.Scenario) -> None:
    assert generate(sc.spec) == sc
    other = generate(ScenarioSpec(**{**{f: getattr(sc.spec, f) for f in sc.spec.__slots__}, "seed": 4}))
    assert other.observations != sc.observations


def test_observations_are_time_ordered_and_carry_their_sensor(sc: scenario.Scenario) -> None:
    obs = sc.observations
    assert len(obs) == len(sc.origins) > 100
    assert all(a.time <= b.time for a, b in itertools.pairwise(obs))
    sigma = {c.name: c.sigma_m for c in sc.spec.cameras}
    if sc.spec.drone:
        sigma[sc.spec.drone.name] = sc.spec.drone.sigma_m
    if sc.spec.reports:
        sigma[sc.spec.reports.name] = sc.spec.reports.sigma_m
    for o in obs:
        assert o.subject_id.startswith(o.source + "/")
        assert o.accuracy_m == sigma[o.source]
        assert o.role is Role.TARGET and o.time.tzinfo is not None
    assert {o.source for o in obs} == set(sigma)


def test_noise_matches_the_stated_accuracy(sc: scenario.Scenario) -> None:
    """The RMS error per axis of each sensor is its accuracy_m (within sampling error)."""
    truth = {t.id: t for t in sc.truth}
    err: dict[str, list[float]] = {}
    for o, tid in zip(sc.observations, sc.origins, strict=True):
        x, y = sc.frame.xy(o.lon, o.lat)
        tx, ty = truth[tid].xy((o.time - T0).total_seconds())
        err.setdefault(o.source, []).extend([x - tx, y - ty])
    for src, e in err.items():
        want = next(o.accuracy_m for o in sc.observations if o.source == src)
        rms = math.sqrt(sum(v * v for v in e) / len(e))
        assert rms == pytest.approx(want, rel=0.1 if len(e) > 200 else 0.35), src


def test_truth_speeds_and_separation(sc: scenario.Scenario) -> None:
    assert len(sc.truth) == sc.spec.walkers + sc.spec.vehicles
    for t in sc.truth:
        speed = math.hypot(t.vx, t.vy)
        lo, hi = (1.0, 1.8) if t.subject_class == "person" else (5.0, 15.0)
        assert lo <= speed <= hi + 1e-9, t.id
        assert t.samples and all(s[0] >= T0 for s in t.samples)


def test_crossings_lie_on_the_truth_paths(sc: scenario.Scenario) -> None:
    truth = {t.id: t for t in sc.truth}
    assert {(c.truth_id, c.corridor_id) for c in sc.crossings} == {(t.id, cid) for t in sc.truth
                                                                   for cid in ("border", "track-7")}
    for c in sc.crossings:
        x, y = truth[c.truth_id].xy((c.time - T0).total_seconds())
        assert (x, y) == pytest.approx((c.x, c.y), abs=1e-3)  # times are whole microseconds
        if c.kind is EventKind.CROSS:
            assert abs(c.x) < 1e-6
        else:
            assert min(abs(c.x - 30.0), abs(c.x - 70.0)) < 1e-6  # the corridor's edge


def test_handoff_crossings_of_the_line_are_all_in_the_gap() -> None:
    sc = generate(handoff(3))
    border = [c for c in sc.crossings if c.corridor_id == "border"]
    assert border and all(c.in_gap and not c.witnesses for c in border)
    assert not any(c.in_gap for c in sc.crossings if c.corridor_id == "track-7")


def test_without_breaks_every_camera_witnesses_every_crossing() -> None:
    sc = generate(overlapping(3, 3, breaks=False))
    assert all(sorted(w.split("/")[0] for w in c.witnesses) == ["cam-a", "cam-b", "cam-c"] for c in sc.crossings)


@pytest.mark.parametrize("n", [0, 5, -1])
def test_overlapping_refuses_other_camera_counts(n: int) -> None:
    with pytest.raises(ValueError, match="1 to 4 cameras"):
        overlapping(n)


def test_too_crowded_is_refused() -> None:
    spec = ScenarioSpec("crowd", 1, overlapping(1).cameras, walkers=200, vehicles=0, duration_s=200.0)
    with pytest.raises(ValueError, match="no room"):
        generate(spec)


def test_doctests() -> None:
    assert doctest.testmod(scenario).failed == 0
