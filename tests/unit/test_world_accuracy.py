"""World tracks against ground truth: one alert per true crossing, none missed in handoff gaps, stable ids.

Each row is a seeded scenario (routewatch.analysis.scenario) run through the real Pipeline with
world tracks on; the track figures come from the same WorldTracker and config. The last row runs
today's pipeline (no world tracks) and asserts today's behaviour, so the improvement is measured
against it, not assumed. Figures are printed (pytest -s) for the closing note; bench/eval_world.py
prints them as JSON.
"""

from __future__ import annotations

import functools

import pytest

from routewatch.analysis.scenario import ScenarioSpec, generate, handoff, mixed, overlapping
from routewatch.analysis.worldeval import Figures, crossing_key, estimates, evaluate, run_alerts
from routewatch.config.world import WorldConfig

WORLD = WorldConfig(enabled=True)
MAX_SWITCHES_PER_TRACK = 0.05

# GOSPA bound per row (metres, c = 10, p = 2): measured plus a margin. A tracker that keeps one
# track per thing scores its filtered position error: 2.2-3.6 m on the fixed-camera rows and 4.5 m
# on the mixed row, measured on these seeds with a scratch copy of the tracker that lets a broken
# local id rejoin its world track and refuses handoffs a walker could not have made. One
# world track duplicated, or one truth missed, adds c^2 / 2 = 50 m^2 to each step it is visible
# in; with about 12 truths visible per step, one such track for its life adds about 1.5-2 m to the
# mean. The margin (about 1 m) passes noise between seeds and fails that regression.
ROWS: list[tuple[str, ScenarioSpec, float]] = [
    ("1 camera", overlapping(1, 11), 4.5),
    ("2 overlapping cameras", overlapping(2, 12), 4.5),
    ("3 overlapping cameras", overlapping(3, 13), 4.5),
    ("4 overlapping cameras", overlapping(4, 14), 4.5),
    ("handoff, 8 m gap between views", handoff(15), 4.5),
    ("fixed camera + drone camera + field reports", mixed(16), 6.0),
]
IDS = [r[0] for r in ROWS]


@functools.cache
def figures(spec: ScenarioSpec, world: bool, perfect: bool = False) -> Figures:
    fig = evaluate(generate(spec), WORLD if world else None, perfect=perfect)
    print(f"\n{spec.name} world={world}: {fig.row()}")
    return fig


@pytest.mark.parametrize(("spec", "bound"), [r[1:] for r in ROWS], ids=IDS)
def test_the_targets_are_reachable_with_perfect_association(spec: ScenarioSpec, bound: float) -> None:
    """Every observation under its true id (no tracker): the scenario and the matching allow exactly 1.00.

    So where a row below fails, the tracker or its integration is the cause, not the scenario. (Its
    GOSPA and id figures are of raw, unfiltered observations and not a floor for a tracker's.)
    """
    f = figures(spec, False, perfect=True)
    assert f.exact, _detail(f)
    assert f.missed_in_gaps == 0


def _detail(f: Figures) -> str:
    off = {k: v for k, v in f.match.per_crossing.items() if len(v) != 1}
    return f"crossings without exactly one alert: {off}; unexplained alerts: {list(f.match.unmatched)}"


@pytest.mark.parametrize(("spec", "bound"), [r[1:] for r in ROWS], ids=IDS)
def test_one_alert_per_true_crossing(spec: ScenarioSpec, bound: float) -> None:
    f = figures(spec, True)
    assert f.crossings > 0
    assert f.exact, _detail(f)
    assert f.alerts_per_crossing == 1.0


@pytest.mark.parametrize(("spec", "bound"), [r[1:] for r in ROWS], ids=IDS)
def test_no_crossing_missed_in_handoff_gaps(spec: ScenarioSpec, bound: float) -> None:
    f = figures(spec, True)
    assert f.missed_in_gaps == 0, _detail(f)


def test_the_handoff_scenario_has_its_line_crossings_in_gaps() -> None:
    """The gap figure above is not vacuous: every line crossing of the handoff row is in a gap."""
    sc = generate(ROWS[4][1])
    line = [c for c in sc.crossings if c.corridor_id == "border"]
    assert len(line) == len(sc.truth) and all(c.in_gap for c in line)


@pytest.mark.parametrize(("spec", "bound"), [r[1:] for r in ROWS], ids=IDS)
def test_world_id_switches_per_true_track(spec: ScenarioSpec, bound: float) -> None:
    f = figures(spec, True)
    assert f.id_switches_per_track <= MAX_SWITCHES_PER_TRACK, f"{f.id_switches} switches on {f.true_tracks} tracks"


@pytest.mark.parametrize(("spec", "bound"), [r[1:] for r in ROWS], ids=IDS)
def test_gospa_is_recorded_and_bounded(spec: ScenarioSpec, bound: float) -> None:
    f = figures(spec, True)
    base = figures(spec, False)
    assert f.gospa_m < base.gospa_m  # better than every sensor track on its own, measured in the same run
    assert 0.0 < f.gospa_m < bound, f"GOSPA {f.gospa_m:.2f} m, bound {bound} m (no world tracks: {base.gospa_m:.2f})"


# Today (no world tracks): every camera's track is its own subject, so each true crossing raises
# one alert per camera that saw the subject clear across it; here, 3 cameras without id breaks.
TODAY = overlapping(3, 17, breaks=False)


def test_without_world_tracks_each_sensor_raises_its_own_alert() -> None:
    f = figures(TODAY, False)
    sc = generate(TODAY)
    assert f.crossings == len(sc.crossings) > 0
    for c in sc.crossings:
        subjects = sorted(f.alert_subjects[a] for a in f.match.per_crossing[crossing_key(c.truth_id, c.corridor_id)])
        assert subjects == list(c.witnesses), c
        assert len(c.witnesses) == 3
    assert f.match.unmatched == ()
    assert f.alerts_per_crossing == 3.0


def test_with_world_tracks_the_same_scenario_raises_one_alert_per_crossing() -> None:
    f = figures(TODAY, True)
    assert f.exact, _detail(f)


def test_a_replay_gives_the_same_alerts_and_world_ids() -> None:
    """Deterministic: the mixed scenario twice, from fresh pipelines and trackers, gives identical output."""
    sc = generate(ROWS[5][1])
    first, again = run_alerts(sc, WORLD), run_alerts(generate(ROWS[5][1]), WORLD)
    assert first and first == again
    assert estimates(sc, WORLD) == estimates(sc, WORLD)
