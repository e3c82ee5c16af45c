"""The world tracker: which sensor tracks become one world track, and which never do (a table per rule)."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from routewatch.config import parse_settings
from routewatch.config.world import WorldConfig
from routewatch.model import Observation, Role
from routewatch.tracking.world import TrackState, WorldTracker, WorldUpdate, world_id_for
from routewatch.tracking.worldtypes import make_observation, make_update

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
LON0, LAT0 = 35.0, 31.0
M_LAT = 111_195.08  # metres per degree of latitude (the tracker's sphere)
M_LON = M_LAT * math.cos(math.radians(LAT0))


def ob(source: str, lid: str, t_s: float, x: float, y: float, cls: str = "person", role: Role = Role.TARGET,
       acc: float | None = 5.0) -> Observation:
    """An observation `t_s` seconds after T0 at (x, y) metres east/north of (LON0, LAT0)."""
    return Observation(lid, T0 + timedelta(seconds=t_s), LON0 + x / M_LON, LAT0 + y / M_LAT, subject_class=cls,
                       role=role, source=source, accuracy_m=acc)


def walk(source: str, lid: str, t0: int, t1: int, x0: float, y0: float, vx: float = 1.3, vy: float = 0.0,
         cls: str = "person", noise: float = 1.0, seed: int = 1, role: Role = Role.TARGET) -> list[Observation]:
    """One sensor's track of a thing moving at (vx, vy) m/s, a fix per second from t0 to t1 inclusive."""
    rng = random.Random(f"{seed}{source}{lid}")
    return [ob(source, lid, t, x0 + vx * (t - t0) + rng.gauss(0, noise), y0 + vy * (t - t0) + rng.gauss(0, noise),
               cls, role) for t in range(t0, t1 + 1)]


def by_time(*tracks: list[Observation]) -> list[Observation]:
    """Merge sensor tracks the way a pipeline receives them: event time, then source, then id."""
    return sorted((o for tr in tracks for o in tr), key=lambda o: (o.time, o.source, o.subject_id))


def groups(updates: list[WorldUpdate]) -> list[set[str]]:
    """The partition of local ids by world id, in a stable order."""
    by: dict[str, set[str]] = {}
    for u in updates:
        by.setdefault(u.world_id, set()).add(u.local_id)
    return sorted(by.values(), key=lambda g: sorted(g))


def run(obs: list[Observation], cfg: WorldConfig | None = None) -> tuple[WorldTracker, list[WorldUpdate]]:
    tr = WorldTracker(cfg or WorldConfig())
    return tr, tr.update(obs)


# name, observations, the local ids that must share a world id (every other pair must not)
FUSION: list[tuple[str, Callable[[], list[Observation]], list[set[str]]]] = [
    ("empty input", lambda: [], []),
    ("one sensor track", lambda: walk("a", "a/1", 0, 5, 0, 0), [{"a/1"}]),
    ("two cameras, one walker", lambda: by_time(walk("a", "a/1", 0, 10, 0, 0), walk("b", "b/7", 0, 10, 0, 0)),
     [{"a/1", "b/7"}]),
    ("two cameras, walker enters b later", lambda: by_time(walk("a", "a/1", 0, 10, 0, 0),
                                                           walk("b", "b/7", 4, 10, 5.2, 0)),
     [{"a/1", "b/7"}]),
    ("two people 30 m apart, two cameras", lambda: by_time(
        walk("a", "a/1", 0, 10, 0, 0), walk("a", "a/2", 0, 10, 0, 30),
        walk("b", "b/1", 0, 10, 0, 0), walk("b", "b/2", 0, 10, 0, 30)),
     [{"a/1", "b/1"}, {"a/2", "b/2"}]),
    ("person and car at the same place", lambda: by_time(walk("a", "a/1", 0, 5, 0, 0),
                                                        walk("b", "b/1", 0, 5, 0, 0, cls="car")),
     [{"a/1"}, {"b/1"}]),
    ("unknown class fuses with a person", lambda: by_time(walk("a", "a/1", 0, 5, 0, 0),
                                                         walk("b", "b/1", 0, 5, 0, 0, cls="unknown")),
     [{"a/1", "b/1"}]),
    ("truck fuses with car", lambda: by_time(walk("a", "a/1", 0, 5, 0, 0, vx=10, cls="car"),
                                            walk("b", "b/1", 0, 5, 0, 0, vx=10, cls="truck")),
     [{"a/1", "b/1"}]),
    ("two local ids of one source at one place", lambda: by_time(walk("a", "a/1", 0, 5, 0, 0),
                                                                walk("a", "a/2", 0, 5, 0, 0)),
     [{"a/1"}, {"a/2"}]),
    ("two identified drones never fused", lambda: by_time(
        walk("uav1", "uav1", 0, 5, 0, 0, vx=5, cls="drone", role=Role.PATROL),
        walk("uav2", "uav2", 0, 5, 0, 0, vx=5, cls="drone", role=Role.PATROL)),
     [{"uav1"}, {"uav2"}]),
    ("camera drone absorbed by identified drone", lambda: by_time(
        walk("uav1", "uav1", 0, 8, 0, 0, vx=5, cls="drone", role=Role.PATROL),
        walk("c", "c/9", 2, 8, 10, 0, vx=5, cls="drone")),
     [{"c/9", "uav1"}]),
    ("camera person near identified drone stays apart", lambda: by_time(
        walk("uav1", "uav1", 0, 8, 0, 0, cls="drone", role=Role.PATROL), walk("c", "c/9", 2, 8, 2.6, 0)),
     [{"c/9"}, {"uav1"}]),
    # Handoff: the walker leaves camera a at t=10 and appears in camera b 6 s later, 8 m further on.
    ("handoff at walking speed", lambda: walk("a", "a/1", 0, 10, 0, 0, noise=0.3)
     + walk("b", "b/1", 16, 22, 13.0 + 8.0, 0, noise=0.3),
     [{"a/1", "b/1"}]),
    ("handoff 300 m away after 6 s: too fast", lambda: walk("a", "a/1", 0, 10, 0, 0, noise=0.3)
     + walk("b", "b/1", 16, 22, 13.0 + 300.0, 0, noise=0.3),
     [{"a/1"}, {"b/1"}]),
    ("handoff from a coasting track (12 s gap)", lambda: walk("a", "a/1", 0, 10, 0, 0, noise=0.3)
     + walk("b", "b/1", 22, 28, 13.0 + 15.6, 0, noise=0.3),
     [{"a/1", "b/1"}]),
    ("car handoff, 6 s and 96 m further on", lambda: walk("a", "a/1", 0, 10, 0, 0, vx=16, cls="car")
     + walk("b", "b/1", 16, 20, 160 + 96, 0, vx=16, cls="car"),
     [{"a/1", "b/1"}]),
    ("handoff after the track ended", lambda: walk("a", "a/1", 0, 10, 0, 0, noise=0.3)
     + walk("b", "b/1", 45, 50, 13.0 + 45.0, 0, noise=0.3),
     [{"a/1"}, {"b/1"}]),
    # Camera a keeps reporting (a/9 far away), so it is known to have lost a/1 once two scans lack it.
    ("same camera, new id after a/1 missed two scans", lambda: by_time(
        walk("a", "a/1", 0, 10, 0, 0, noise=0.3), walk("a", "a/2", 13, 20, 13 + 3.9, 0, noise=0.3),
        walk("a", "a/9", 0, 20, 500, 0)),
     [{"a/1", "a/2"}, {"a/9"}]),
    # An image tracker (ByteTrack) breaks ids between consecutive frames: a/1's last fix is the scan
    # before a/2's first, at the place a/1 was going. The new id continues a/1's world track.
    ("same camera, id broken between consecutive scans", lambda: by_time(
        walk("a", "a/1", 0, 10, 0, 0, noise=0.3), walk("a", "a/2", 11, 20, 13 + 1.3, 0, noise=0.3),
        walk("a", "a/9", 0, 20, 500, 0)),
     [{"a/1", "a/2"}, {"a/9"}]),
    ("same camera, two ids in one scan stay apart even at one place", lambda: by_time(
        walk("a", "a/1", 0, 10, 0, 0, noise=0.3), walk("a", "a/2", 5, 10, 6.5, 0, noise=0.3)),
     [{"a/1"}, {"a/2"}]),
    ("a walker who left, and a newcomer 11 s later behind it, entering the other way", lambda:
     walk("a", "a/1", 0, 30, 0, 0, vx=1.8, noise=0.3) + walk("a", "a/2", 41, 50, 54.0 - 20.0, 2.0, vx=-1.5,
                                                              noise=0.3),
     [{"a/1"}, {"a/2"}]),
    ("same camera re-acquires after it lost the walker", lambda: walk("a", "a/1", 0, 10, 0, 0, noise=0.3)
     + walk("a", "a/2", 22, 25, 13.0 + 15.6, 0, noise=0.3),
     [{"a/1", "a/2"}]),
]


@pytest.mark.parametrize(("name", "make", "expected"), FUSION, ids=[f[0] for f in FUSION])
def test_which_sensor_tracks_fuse(name, make, expected):
    obs = make()
    _, ups = run(obs)
    assert len(ups) == len(obs)
    assert [u.local_id for u in ups] == [o.subject_id for o in obs]
    assert groups(ups) == sorted(expected, key=lambda g: sorted(g))


@pytest.mark.parametrize(("name", "make", "world_ids"), [
    ("identified keep their ids", lambda: by_time(walk("uav1", "uav1", 0, 3, 0, 0, cls="drone", role=Role.PATROL),
                                                 walk("uav2", "uav2", 0, 3, 0, 0, cls="drone", role=Role.PATROL)),
     {"uav1": "uav1", "uav2": "uav2"}),
    ("absorbed camera track takes the drone's id", lambda: by_time(
        walk("uav1", "uav1", 0, 4, 0, 0, vx=5, cls="drone", role=Role.PATROL),
        walk("c", "c/9", 1, 4, 5, 0, vx=5, cls="drone")),
     {"uav1": "uav1", "c/9": "uav1"}),
    ("a sensor track's id comes from its first observation",
     lambda: walk("a", "a/1", 3, 5, 0, 0), {"a/1": world_id_for("a", "a/1", T0 + timedelta(seconds=3))}),
])
def test_world_ids(name, make, world_ids):
    _, ups = run(make())
    assert {u.local_id: u.world_id for u in ups} == world_ids


def test_two_cameras_make_one_track_with_two_contributors():
    obs = by_time(walk("a", "a/1", 0, 10, 0, 0), walk("b", "b/7", 2, 10, 2.6, 0))
    tr, ups = run(obs)
    (wid,) = {u.world_id for u in ups}
    assert [(c.source, c.local_id, c.first, c.last) for c in tr.contributors(wid)] == [
        ("a", "a/1", T0, T0 + timedelta(seconds=10)),
        ("b", "b/7", T0 + timedelta(seconds=2), T0 + timedelta(seconds=10)),
    ]
    assert ups[0].sensors == ("a",) and ups[-1].sensors == ("a", "b")
    last = ups[-1].observation
    # Fused from two 5 m sensors: tighter than either, and the walker's speed and heading (east).
    assert last.subject_id == wid and last.accuracy_m is not None and last.accuracy_m < 5.0
    assert last.speed_m_s == pytest.approx(1.3, abs=0.5) and last.heading_deg == pytest.approx(90, abs=20)
    x, y = (last.lon - LON0) * M_LON, (last.lat - LAT0) * M_LAT
    assert math.hypot(x - 13.0, y) < 3.0
    assert len(tr) == 1


@pytest.mark.parametrize("lag_s", [0, 5, 20])
def test_a_sensor_running_behind_witnesses_the_track_without_pulling_it_back(lag_s):
    # Camera a sees the walker from 0 to 30 s; camera b saw it from 5 to 25 s, but its sightings reach the
    # tracker lag_s late (its processing fell behind in event time), each with its own time.
    a, b = walk("a", "a/1", 0, 30, 0, 0, noise=0.5), walk("b", "b/4", 5, 25, 0.4 + 5 * 1.3, 0, noise=0.5)
    late = sorted(a + b, key=lambda o: (o.time.timestamp() + (lag_s if o.source == "b" else 0), o.source))
    tr, ups = run(late)
    assert len({u.world_id for u in ups}) == 1
    (wid,) = {u.world_id for u in ups}
    assert {c.local_id for c in tr.contributors(wid)} == {"a/1", "b/4"}
    # Each estimate is where the walker was at the sighting's time, late ones too (x = 1.3 t).
    for u in ups:
        t = (u.observation.time - T0).total_seconds()
        assert abs((u.observation.lon - LON0) * M_LON - 1.3 * t) < 4.0, (u.local_id, t)
    # The newest estimate is not pulled back by late sightings: the walker at 30 s is about 39 m east.
    newest = max((u for u in ups if u.local_id == "a/1"), key=lambda u: u.observation.time)
    assert abs((newest.observation.lon - LON0) * M_LON - 39.0) < 3.0


def test_a_car_coasting_far_beyond_the_grid_search_is_handed_off():
    """1.4 km from its last fix after 25 s: found through the quiet list, not the grid around recent tracks.

    (A quiet road: end_s 30 s, and few new things, 1 per km^2. With the defaults, 15 s and 200 per km^2,
    the track has ended before this gap, and a 25 s old prediction would lose to a new thing anyway.)
    """
    obs = walk("a", "a/1", 0, 10, 0, 0, vx=55, cls="car") + walk("b", "b/1", 35, 40, 550 + 55 * 25, 0, vx=55,
                                                                 cls="car")
    _, ups = run(obs, WorldConfig(end_s=30.0, new_track_density_km2=1.0))
    assert groups(ups) == [{"a/1", "b/1"}]
    _, ups = run(obs)
    assert groups(ups) == [{"a/1"}, {"b/1"}]


# A walker lost by every camera at t=30 (coasting from t=40); 11 s later camera b sees someone `north` m
# off the place the walker was going (predicted 1-sigma there about 12.6 m, gate about 43 m).
COASTING = [
    ("near the prediction: the walker, handed off", 8.0, None, [{"a/1", "b/1"}]),
    ("inside the gate but a new thing explains it better", 30.0, None, [{"a/1"}, {"b/1"}]),
    ("the same, where new things are rare (1 per km^2)", 30.0, 1.0, [{"a/1", "b/1"}]),
    ("outside the gate, however rare new things are", 50.0, 1.0, [{"a/1"}, {"b/1"}]),
]


@pytest.mark.parametrize(("north", "density", "expected"), [r[1:] for r in COASTING], ids=[r[0] for r in COASTING])
def test_a_coasting_track_takes_a_new_sensor_track_only_if_it_beats_a_new_thing(north, density, expected):
    obs = walk("a", "a/1", 0, 30, 0, 0, noise=0.3) + walk("b", "b/1", 41, 46, 1.3 * 41, north, noise=0.3)
    _, ups = run(obs, WorldConfig() if density is None else WorldConfig(new_track_density_km2=density))
    assert groups(ups) == expected


def test_a_second_look_moves_a_new_id_whose_first_fix_missed_its_track():
    """A broken id whose first fix is an outlier starts a tentative track; its next fix joins the walker."""
    a1 = walk("a", "a/1", 0, 10, 0, 0, noise=0.3)
    a2 = [ob("a", "a/2", 11, 14.3, 25.0), *walk("a", "a/2", 12, 19, 13 + 2.6, 0, noise=0.3)]
    tr, ups = run(by_time(a1, a2))
    assert groups(ups) == [{"a/1", "a/2"}, {"a/2"}]  # the second: a/2's first fix, on its tentative track
    first = ups[len(a1)]
    assert first.local_id == "a/2" and first.state is TrackState.TENTATIVE and first.world_id != ups[0].world_id
    assert all(u.world_id == ups[0].world_id for u in ups[len(a1) + 1:])
    assert tr.state(first.world_id) is TrackState.ENDED  # the tentative track it started is gone
    assert [c.local_id for c in tr.contributors(ups[0].world_id)] == ["a/1", "a/2"]


def test_one_track_is_tentative_then_confirmed():
    _, ups = run(walk("a", "a/1", 0, 3, 0, 0), WorldConfig(confirm_hits=3))
    assert [u.state for u in ups] == [TrackState.TENTATIVE, TrackState.TENTATIVE] + [TrackState.CONFIRMED] * 2


def test_identified_is_confirmed_at_once():
    _, ups = run(walk("uav1", "uav1", 0, 1, 0, 0, cls="drone", role=Role.PATROL))
    assert [u.state for u in ups] == [TrackState.CONFIRMED] * 2


# seconds after the last fix at t=5 -> state, ids ended by expire
LIFECYCLE = [  # the defaults: coast_s 10, end_s 15
    (0, TrackState.CONFIRMED, []),
    (9.9, TrackState.CONFIRMED, []),
    (10, TrackState.COASTING, []),
    (14.9, TrackState.COASTING, []),
    (15, TrackState.ENDED, ["w"]),
]


@pytest.mark.parametrize(("after", "state", "ended"), LIFECYCLE, ids=[f"{r[0]}s" for r in LIFECYCLE])
def test_lifecycle_through_expire(after, state, ended):
    tr, ups = run(walk("a", "a/1", 0, 5, 0, 0))
    wid = ups[0].world_id
    assert tr.expire(T0 + timedelta(seconds=5 + after)) == [wid for _ in ended]
    assert tr.state(wid) is state
    assert len(tr) == (0 if state is TrackState.ENDED else 1)
    assert [c.local_id for c in tr.contributors(wid)] == ["a/1"]


def test_tentative_track_ends_at_coast_s_and_unknown_ids_have_no_state():
    tr, ups = run(walk("a", "a/1", 0, 0, 0, 0))
    assert tr.expire(T0 + timedelta(seconds=9)) == [] and tr.state(ups[0].world_id) is TrackState.TENTATIVE
    assert tr.expire(T0 + timedelta(seconds=10)) == [ups[0].world_id]
    assert tr.state("w-nothing") is None and tr.contributors("w-nothing") == ()


def test_local_id_after_its_track_ended_starts_a_new_one():
    obs = walk("a", "a/1", 0, 5, 0, 0) + walk("a", "a/1", 40, 42, 0, 0)
    _, ups = run(obs)
    assert ups[0].world_id != ups[-1].world_id
    assert ups[-1].world_id == world_id_for("a", "a/1", T0 + timedelta(seconds=40))


def crowd(seed: int) -> list[Observation]:
    """20 walkers 50 m apart under 3 overlapping cameras, each walker seen by 1-3 of them."""
    rng = random.Random(seed)
    tracks = []
    for k in range(20):
        cams = rng.sample("abc", rng.randint(1, 3))
        for c in cams:
            tracks.append(walk(c, f"{c}/{k}", 0, 8, 50.0 * (k % 5), 50.0 * (k // 5), vx=rng.uniform(-1.5, 1.5),
                               vy=rng.uniform(-1.5, 1.5), noise=0.8, seed=seed))
    return by_time(*tracks)


def test_replay_gives_identical_updates():
    obs = crowd(3)
    assert run(obs)[1] == run(obs)[1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_order_within_a_scan_does_not_change_ids(seed):
    obs = crowd(seed)
    scans: dict[tuple[datetime, str], list[Observation]] = {}
    for o in obs:
        scans.setdefault((o.time, o.source), []).append(o)
    rng = random.Random(seed)
    shuffled = []
    for scan in scans.values():
        scan = scan[:]
        rng.shuffle(scan)
        shuffled.extend(scan)
    ids = {u.local_id: u.world_id for u in run(obs)[1]}
    assert {u.local_id: u.world_id for u in run(shuffled)[1]} == ids
    # and the crowd is separated: one world track per walker
    assert len(set(ids.values())) == 20


BAD = [
    ("lon out of range", Observation("a/1", T0, 181.0, 31.0, source="a"), "out of range"),
    ("lat is nan", Observation("a/1", T0, 35.0, math.nan, source="a"), "out of range"),
    ("naive time", Observation("a/1", T0.replace(tzinfo=None), 35.0, 31.0, source="a"), "not tz-aware"),
    ("zero accuracy", Observation("a/1", T0, 35.0, 31.0, source="a", accuracy_m=0.0), "accuracy_m"),
    ("empty id", Observation("", T0, 35.0, 31.0, source="a"), "empty subject_id"),
]


@pytest.mark.parametrize(("name", "bad", "message"), BAD, ids=[b[0] for b in BAD])
def test_invalid_batch_is_refused_whole(name, bad, message):
    tr = WorldTracker(WorldConfig())
    with pytest.raises(ValueError, match=message) as exc:
        tr.update([ob("a", "a/0", 0, 0, 0), bad])
    assert "observation 1" in str(exc.value)
    assert len(tr) == 0 and tr.update([]) == []


@pytest.mark.parametrize(("tree", "message"), [
    ({}, None),
    ({"coast_s": 30, "end_s": 30}, "end_s (30.0) must be greater than coast_s"),
    ({"max_speed_m_s": {"person": 0}}, "speeds must be in (0, 2000]"),
    ({"compatible": {"person": [""]}}, "class names must not be empty"),
    ({"gate_probability": 1.0}, "less than or equal to 0.99999"),
])
def test_world_config(tree, message):
    if message is None:
        assert parse_settings({"world": tree}).world == WorldConfig()
        return
    with pytest.raises(ValidationError, match=re.escape(message)):
        WorldConfig(**tree)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 3), st.floats(-50, 50), st.floats(-50, 50),
                          st.sampled_from(["person", "car", "unknown"]), st.integers(0, 3)),
                min_size=1, max_size=60))
def test_one_update_per_input_ids_stick_and_one_source_never_feeds_two_live_ids(rows):
    obs, t = [], 0
    for src, k, x, y, cls, gap in rows:
        t += gap
        obs.append(ob(src, f"{src}/{k}", t, x, y, cls))
    obs.sort(key=lambda o: o.time)
    cfg = WorldConfig()
    _, ups = run(obs, cfg)
    assert [u.local_id for u in ups] == [o.subject_id for o in obs]
    world_of: dict[str, tuple[str, datetime, TrackState]] = {}
    latest: dict[tuple[str, str], tuple[str, datetime]] = {}  # (world id, source) -> last local id, time
    for o, u in zip(obs, ups, strict=True):
        assert u.observation.subject_id == u.world_id and u.observation.time == o.time
        assert u.sensors == tuple(sorted(set(u.sensors))) and o.source in u.sensors
        # A local id keeps its world id while that track lives, unless its sensor handed that
        # track to another local id meanwhile, or its own track was still tentative (a second look).
        prev = world_of.get(u.local_id)
        if (prev is not None and (o.time - prev[1]).total_seconds() < cfg.coast_s and prev[0] != u.world_id
                and prev[2] is not TrackState.TENTATIVE):
            assert latest[prev[0], o.source][0] != u.local_id
        world_of[u.local_id] = (u.world_id, o.time, u.state)
        # A world track never takes two local ids of one source at one time (the sensor says they
        # are two things); a later one may take over (an image tracker's broken id).
        before = latest.get((u.world_id, o.source))
        if before is not None and before[0] != u.local_id:
            assert before[1] < o.time
        latest[u.world_id, o.source] = (u.local_id, o.time)


def test_fast_constructors_build_what_the_dataclasses_build():
    args = ("w-1", T0, 35.0, 31.0, 12.0, "person", Role.TARGET, 0.5, "a", 1.5, 90.0, 3.0)
    o = Observation(*args)
    assert make_observation(*args) == o and hash(make_observation(*args)) == hash(o)
    assert make_update("w-1", TrackState.CONFIRMED, o, "a/1", ("a",)) == WorldUpdate(
        "w-1", TrackState.CONFIRMED, o, "a/1", ("a",))


def test_tracks_ended_while_updating_are_reported_by_the_next_expire():
    tr, ups = run(walk("a", "a/1", 0, 5, 0, 0) + walk("b", "b/1", 60, 61, 5000, 0))
    first, second = ups[0].world_id, ups[-1].world_id
    assert len(tr) == 1 and tr.state(first) is TrackState.ENDED
    assert tr.expire(T0 + timedelta(seconds=61)) == [first]
    assert tr.expire(T0 + timedelta(seconds=62)) == []
    assert tr.expire(T0 + timedelta(seconds=91)) == [second]


def test_state_follows_event_time_seen_by_update_without_expire():
    tr, ups = run(walk("a", "a/1", 0, 5, 0, 0) + walk("b", "b/1", 16, 16, 3000, 0))
    assert tr.state(ups[0].world_id) is TrackState.COASTING and len(tr) == 2
