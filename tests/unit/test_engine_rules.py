"""Rule behaviour of the corridor engine, as tables of tracks -> expected events."""

from __future__ import annotations

import math

import pytest

from routewatch.config.engine import EngineConfig
from routewatch.geo.engine import CorridorEngine
from routewatch.model import CorridorKind, Direction, EventKind, Role
from tests.kits.engine import FRAME, T0, box, corridor, fixes, line, walk

E = EventKind
CFG = EngineConfig(hysteresis_m=5.0, confirm_fixes=2, confirm_s=1.0, min_dwell_s=60, min_progress_m=50,
                   min_displacement_m=5.0, max_gap_s=60)

ZONE = box("zone", 0, 0, 100, 100)
EAST = corridor("east", [(0, 0), (1000, 0)], 40, Direction.FORWARD)
BOTHWAYS = corridor("both", [(0, 0), (1000, 0)], 40, Direction.BOTH)
NODIR = corridor("nodir", [(0, 0), (1000, 0)], 40, None)
BORDER = line("border", [(0, -500), (0, 500)])
BORDER_FWD = line("border", [(0, -500), (0, 500)], direction=Direction.FORWARD)
AREA = box("area", -100, -100, 100, 100, CorridorKind.OPERATING_AREA)
PEOPLE_ONLY = box("zone", 0, 0, 100, 100, classes=frozenset({"person"}))
NOFLY = box("nofly", 0, 0, 100, 100, roles=frozenset({Role.PATROL}))
BORDER_ALL = line("border", [(0, -500), (0, 500)], roles=frozenset({Role.PATROL, Role.TARGET}))


def jitter(n: int, x: float, y: float, amp: float, t0: float = 0.0) -> list[tuple[float, float, float]]:
    """Alternating +-amp in x around (x, y): a subject hugging a boundary."""
    return [(t0 + i, x + (amp if i % 2 else -amp), y) for i in range(n)]


CASES = [
    # id, corridors, track points (t, x, y), class, role, expected [(kind, t_s)]
    ("empty track", [ZONE], [], "person", Role.TARGET, []),
    ("no corridors", [], walk(-50, 50, 150, 50, 20), "person", Role.TARGET, []),
    ("through a zone", [ZONE], walk(-50, 50, 150, 50, 20), "person", Role.TARGET,
     [(E.ENTER, 6), (E.EXIT, 16)]),
    ("one stray fix inside is not an entry", [ZONE], [(0, -20, 50), (1, 10, 50), (2, -20, 50), (3, -30, 50)],
     "person", Role.TARGET, []),
    ("hugging the boundary inside the hysteresis", [ZONE],
     [(0, -50, 50), (1, 20, 50), (2, 20, 50), *jitter(40, 0, 50, 3, 3)], "person", Role.TARGET,
     [(E.ENTER, 1)]),
    ("dwell after min_dwell_s", [ZONE], [(t, 50, 50) for t in range(0, 80)], "person", Role.TARGET,
     [(E.ENTER, 0), (E.DWELL, 60)]),
    ("gap restarts the dwell clock", [ZONE], [*[(t, 50, 50) for t in range(0, 40)], *[(t, 50, 50)
                                                                                         for t in range(140, 190)]],
     "person", Role.TARGET, [(E.ENTER, 0), (E.ENTER, 140)]),  # still inside after the gap: said again
    ("gap while outside the operating area repeats the breach", [AREA],
     [*walk(0, 0, 200, 0, 20), *[(t, 200, 0) for t in range(200, 210)]], "drone", Role.PATROL,
     [(E.BREACH, 11), (E.BREACH, 200)]),
    ("no crossing is invented across a gap longer than cross_max_gap_s", [BORDER],
     [(0, -100, 0), (1, -90, 0), (2000, 90, 0), (2001, 100, 0)], "car", Role.TARGET, []),
    ("class filter", [PEOPLE_ONLY], walk(-50, 50, 150, 50, 20), "car", Role.TARGET, []),
    ("our own patrol is not a target", [ZONE], walk(-50, 50, 150, 50, 20), "drone", Role.PATROL, []),
    ("our patrol crossing a line is not a target", [BORDER], walk(-100, 0, 100, 0, 20), "drone", Role.PATROL, []),
    ("a no-fly zone with roles [patrol]: our drone entering it", [NOFLY], walk(-50, 50, 150, 50, 20), "drone",
     Role.PATROL, [(E.ENTER, 6), (E.EXIT, 16)]),
    ("a no-fly zone with roles [patrol] ignores targets", [NOFLY], walk(-50, 50, 150, 50, 20), "person",
     Role.TARGET, []),
    ("a line with roles [patrol, target]: our patrol crossing", [BORDER_ALL], walk(-100, 0, 100, 0, 20), "drone",
     Role.PATROL, [(E.CROSS, 10)]),
    ("a line with roles [patrol, target]: a target crossing", [BORDER_ALL], walk(-100, 0, 100, 0, 20), "person",
     Role.TARGET, [(E.CROSS, 10)]),
    # x=0 is the flat end of the corridor: the first fix strictly inside is x=10 at t=3; along-progress
    # counts from the confirming fix (t=4, s=20) and reaches 50 m at t=9.
    ("along, forward corridor", [EAST], walk(-20, 0, 300, 0, 32), "person", Role.TARGET,
     [(E.ENTER, 3), (E.ALONG, 9)]),
    ("against a forward corridor is not along", [EAST], walk(300, 0, -20, 0, 32), "person", Role.TARGET,
     [(E.ENTER, 0), (E.EXIT, 31)]),
    ("both directions: reverse counts", [BOTHWAYS], walk(300, 0, 100, 0, 20), "person", Role.TARGET,
     [(E.ENTER, 0), (E.ALONG, 6)]),
    ("no direction: no along rule", [NODIR], walk(-20, 0, 300, 0, 32), "person", Role.TARGET, [(E.ENTER, 3)]),
    ("standing still with GPS noise is not along", [EAST], jitter(200, 500, 0, 4), "person", Role.TARGET,
     [(E.ENTER, 0), (E.DWELL, 60)]),
    ("crossing a line", [BORDER], walk(-100, 0, 100, 0, 20), "person", Role.TARGET, [(E.CROSS, 10)]),
    ("sparse fixes still cross, at the interpolated time", [BORDER], [(0, -900, 0), (100, 100, 0), (101, 110, 0)],
     "car", Role.TARGET, [(E.CROSS, 90)]),
    ("jitter on a line is not a crossing", [BORDER], jitter(50, 0, 0, 2), "person", Role.TARGET, []),
    # The border runs north: its left is west, so eastward is left-to-right, i.e. forward.
    ("forward line ignores right-to-left", [BORDER_FWD], walk(100, 0, -100, 0, 20), "person", Role.TARGET, []),
    ("forward line takes left-to-right", [BORDER_FWD], walk(-100, 0, 100, 0, 20), "person", Role.TARGET,
     [(E.CROSS, 10)]),
    ("patrol breach and return", [AREA], [*walk(0, 0, 200, 0, 20), *walk(200, 0, 0, 0, 20, t0=21)],
     "drone", Role.PATROL, [(E.BREACH, 11), (E.RETURN, 32)]),
    ("patrol starting outside is a breach", [AREA], walk(500, 0, 600, 0, 5), "drone", Role.PATROL,
     [(E.BREACH, 0)]),
    ("targets ignore operating areas", [AREA], walk(0, 0, 200, 0, 20), "person", Role.TARGET, []),
]


@pytest.mark.parametrize(("name", "corridors", "points", "cls", "role", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rules(name, corridors, points, cls, role, expected):
    eng = CorridorEngine(corridors, CFG, frame=FRAME)
    got = []
    for obs in fixes(points, cls=cls, role=role):
        got.extend((e.kind, round((e.time - T0).total_seconds(), 3)) for e in eng.process(obs))
    assert got == [(k, float(t)) for k, t in expected]


@pytest.mark.parametrize("n_batch", [1, 7, 1000])
def test_batch_matches_single(n_batch):
    corridors = [ZONE, EAST, BORDER, AREA]
    pts = walk(-200, -10, 400, 30, 300)
    obs = fixes(pts) + fixes(pts, subject="p", cls="drone", role=Role.PATROL)
    obs.sort(key=lambda o: o.time)
    single = CorridorEngine(corridors, CFG, frame=FRAME)
    want = [e for o in obs for e in single.process(o)]
    batched = CorridorEngine(corridors, CFG, frame=FRAME)
    got = [e for i in range(0, len(obs), n_batch) for e in batched.process_batch(obs[i:i + n_batch])]
    assert got == want
    assert len(want) >= 5


BAD_ORDER = [
    ("duplicate", [(0, 10, 10), (0, 10, 10)], {"duplicate": 1, "accepted": 1}),
    ("out of order", [(0, 10, 10), (5, 10, 10), (3, 12, 10)], {"out_of_order": 1, "accepted": 2}),
    ("outlier jump", [(0, 10, 10), (1, 5000, 10), (2, 12, 10)], {"outlier": 1, "accepted": 2}),
    ("stale", [(1000, 10, 10), (1, 10, 10)], {"stale": 1, "out_of_order": 0, "accepted": 1}),
    # A bad first fix 50 km away: three later fixes that agree with each other win, the track goes on.
    ("bad first fix is re-anchored", [(0, 50_000, 0), (1, 10, 10), (2, 12, 10), (3, 14, 10), (4, 16, 10)],
     {"outlier": 2, "reanchored": 1, "accepted": 3}),
    ("empty", [], {"accepted": 0}),
]


@pytest.mark.parametrize(("name", "points", "counts"), BAD_ORDER, ids=[c[0] for c in BAD_ORDER])
def test_bad_fixes_are_counted_and_ignored(name, points, counts):
    eng = CorridorEngine([ZONE], CFG, frame=FRAME)
    for obs in fixes(points):
        eng.process(obs)
    stats = eng.stats.as_dict()
    for k, v in counts.items():
        assert stats[k] == v, (k, stats)


def test_stale_fix_of_another_subject_is_dropped():
    eng = CorridorEngine([ZONE], CFG, frame=FRAME)
    eng.process(fixes([(1000, 10, 10)])[0])
    eng.process(fixes([(10, 10, 10)], subject="late")[0])
    assert eng.stats.stale == 1
    assert "late" not in eng.tracks


def test_looping_corridor_does_not_jump_between_legs():
    # A hairpin: out east along y=0, back west along y=45; 50 m wide, so the legs overlap. Moving east
    # at y=24 is nearer the return leg's centre-line: a global projection would jump onto it and see
    # westward progress; searching near the previous projection keeps the subject on its own leg.
    hair = corridor("hair", [(0, 0), (1000, 0), (1000, 45), (0, 45)], 50, Direction.FORWARD)
    eng = CorridorEngine([hair], CFG, frame=FRAME)
    kinds = []
    for obs in fixes([(t, 100 + 10 * t, 15 if t < 3 else 24) for t in range(50)]):
        kinds.extend(e.kind for e in eng.process(obs))
    assert kinds == [E.ENTER, E.ALONG]


def test_corridor_swap_keeps_state_of_kept_ids():
    eng = CorridorEngine([ZONE], CFG, frame=FRAME)
    for obs in fixes(walk(-50, 50, 50, 50, 10)):
        eng.process(obs)
    bigger = box("zone", 0, 0, 300, 300, version=2)
    eng.set_corridors([bigger])
    events = [e for obs in fixes(walk(60, 50, 250, 50, 19, t0=11)) for e in eng.process(obs)]
    assert events == []  # still inside: no second entry
    events = [e for obs in fixes(walk(260, 50, 400, 50, 14, t0=31)) for e in eng.process(obs)]
    assert [(e.kind, e.corridor_version) for e in events] == [(E.EXIT, 2)]


def test_along_reports_heading_and_progress():
    eng = CorridorEngine([EAST], CFG, frame=FRAME)
    events = [e for obs in fixes(walk(-20, 0, 300, 0, 32)) for e in eng.process(obs)]
    along = next(e for e in events if e.kind is E.ALONG)
    assert along.heading_deg is not None and math.isclose(along.heading_deg, 90.0, abs_tol=1.0)
    assert along.progress_m is not None and 50 <= along.progress_m <= 100
    assert along.speed_m_s is not None and math.isclose(along.speed_m_s, 10.0, rel_tol=0.01)


@pytest.mark.parametrize(("lon", "lat"), [(math.nan, 0.0), (0.0, math.nan), (math.inf, 0.0), (0.0, -math.inf),
                                          (200.0, 0.0), (0.0, -91.0)])
def test_invalid_coordinates_are_counted_in_both_paths(lon, lat):
    from dataclasses import replace

    good = fixes([(0, 10, 10), (1, 12, 10)])
    broken = [replace(good[0], lon=lon, lat=lat), replace(good[1], lon=lon, lat=lat), *good]
    single = CorridorEngine([ZONE], CFG, frame=FRAME)
    for o in broken:
        single.process(o)
    batched = CorridorEngine([ZONE], CFG, frame=FRAME)
    batched.process_batch(broken)
    for eng in (single, batched):
        assert eng.stats.invalid == 2 and eng.stats.accepted == 2


def test_sources_on_different_clocks_do_not_mute_each_other():
    eng = CorridorEngine([ZONE], CFG, frame=FRAME)
    late = [replace_source(o, "late") for o in fixes([(86_400 + t, -50 + 10 * t, 50) for t in range(20)], "a")]
    early = [replace_source(o, "early") for o in fixes(walk(-50, 50, 150, 50, 20), "b")]
    events = [e for o in late + early for e in eng.process(o)]
    assert eng.stats.stale == 0
    assert [(e.subject_id, e.kind) for e in events] == [("a", E.ENTER), ("a", E.EXIT), ("b", E.ENTER), ("b", E.EXIT)]


def replace_source(obs, source):
    from dataclasses import replace

    return replace(obs, source=source)


def test_removed_corridor_ends_its_pairs():
    eng = CorridorEngine([ZONE, AREA], CFG, frame=FRAME)
    for o in fixes(walk(-50, 50, 50, 50, 10)) + fixes(walk(150, 0, 300, 0, 5), "p", "drone", Role.PATROL):
        eng.process(o)
    ended = eng.set_corridors([])
    assert sorted((e.subject_id, e.kind, e.corridor_id) for e in ended) == [
        ("p", E.RETURN, "area"), ("s1", E.EXIT, "zone")]
