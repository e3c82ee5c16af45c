"""Sectors: settings, who owns a position, a worker's share of a batch, and two workers == one."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from routewatch.app.runtime import sector_gate
from routewatch.config.schema import Settings
from routewatch.config.sectors import SectorsConfig
from routewatch.geo.sectors import SectorMap, load_sector
from routewatch.model import Alert, Observation
from routewatch.pipeline.core import Pipeline
from routewatch.pipeline.sectors import SectorGate
from tests.kits.engine import FRAME, T0
from tests.kits.sectorscene import CORRIDORS, observations, sector_areas, sector_polygon

WEST, EAST = sector_areas()


@pytest.mark.parametrize(("sectors", "error"), [
    ({}, None),
    ({"areas": [WEST, EAST], "own": "east"}, None),
    ({"areas": [WEST, EAST], "own": "east", "default": "east", "margin_m": 0}, None),
    ({"areas": [WEST, EAST]}, "which sector does this worker own"),
    ({"areas": [WEST, EAST], "own": "north"}, "'north' is not a sector"),
    ({"areas": [WEST, EAST], "own": "west", "default": "north"}, "sectors.default: 'north'"),
    ({"own": "west"}, "list them in sectors.areas"),
    ({"areas": [WEST, WEST], "own": "west"}, "duplicate sector id(s) ['west']"),
    ({"areas": [{"id": "w"}], "own": "w"}, "give exactly one of `polygon`"),
    ({"areas": [{**WEST, "file": "w.geojson"}], "own": "west"}, "give exactly one of `polygon`"),
    ({"areas": [{"id": "w", "polygon": {"type": "Point", "coordinates": [0, 0]}}], "own": "w"}, "got type 'Point'"),
    ({"areas": [{"id": "a b", "polygon": WEST["polygon"]}], "own": "a b"}, "String should match pattern"),
    ({"areas": [WEST], "own": "west", "margin_m": -1}, "greater than or equal to 0"),
])
def test_settings(sectors, error):
    if error is None:
        cfg = Settings(sectors=sectors).sectors
        assert cfg.enabled == bool(sectors)
        assert cfg.default_id == (sectors.get("default", "west") if sectors else None)
    else:
        with pytest.raises(ValidationError, match=error.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            Settings(sectors=sectors)


@pytest.mark.parametrize(("polygon", "error"), [
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}, None),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 95], [0, 0]]]}, "sectors.areas[s].polygon: "),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "sectors.areas[s].polygon: "),
    ({"type": "Polygon", "coordinates": []}, "sectors.areas[s].polygon: "),
])
def test_load_sector_inline(polygon, error):
    if error is None:
        assert load_sector("s", polygon, None).area.area == pytest.approx(0.5)
    else:
        with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
            load_sector("s", polygon, None)


@pytest.mark.parametrize(("content", "error"), [
    (json.dumps({"type": "Feature", "geometry": EAST["polygon"], "properties": {}}), None),
    ("not json", "sectors.areas[s].file: .*not GeoJSON"),
    (json.dumps({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}), "no Polygon or MultiPolygon"),
    (None, "sectors.areas[s].file: "),  # missing file
])
def test_load_sector_file(tmp_path, content, error):
    path = tmp_path / "s.geojson"
    if content is not None:
        path.write_text(content)
    if error is None:
        assert load_sector("s", None, path).area.equals(load_sector("e", EAST["polygon"], None).area)
    else:
        with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
            load_sector("s", None, path)


def _map(own: str, margin_m: float = 0.0, default: str = "west") -> SectorMap:
    areas = [load_sector(a["id"], a["polygon"], None) for a in (WEST, EAST)]
    return SectorMap(areas, own=own, default=default, margin_m=margin_m)


@pytest.mark.parametrize(("x", "y", "owner", "west_owns", "east_owns"), [
    (-10, 0, "west", True, False),
    (10, 0, "east", False, True),
    (0, 0, "west", True, False),          # on the shared edge: the first listed
    (5000, 0, None, True, False),         # in no sector: the default's (west)
    (-2999, 2999, "west", True, False),
    (0, 3500, None, True, False),
])
def test_owner(x, y, owner, west_owns, east_owns):
    lon, lat = FRAME.lonlat(x, y)
    assert _map("west").owner(lon, lat) == owner
    assert (_map("west").owns(lon, lat), _map("east").owns(lon, lat)) == (west_owns, east_owns)


def test_default_east_owns_what_is_in_no_sector():
    lon, lat = FRAME.lonlat(5000, 0)
    assert (_map("west", default="east").owns(lon, lat), _map("east", default="east").owns(lon, lat)) == (False, True)


def _obs(sid: str, t: float, x: float, y: float = 0.0) -> Observation:
    lon, lat = FRAME.lonlat(x, y)
    return Observation(sid, T0 + timedelta(seconds=t), lon, lat, source="f")


@pytest.mark.parametrize(("xs", "margin_m", "fed", "stored", "counts"), [
    ([], 0, [], [], {}),
    ([10.0], 0, [10.0], [10.0], {"sector_owned": 1}),
    ([-10.0], 0, [], [], {"sector_outside": 1}),
    ([-10.0], 50, [-10.0], [], {"sector_margin": 1}),
    ([-100.0], 50, [], [], {"sector_outside": 1}),
    ([5000.0], 0, [], [], {"sector_outside": 1}),  # in no sector: west's, the default
    # A subject arriving brings its last fix from outside, just before its first fix here.
    ([-30.0, -20.0, -10.0, 10.0, 20.0], 0, [-10.0, 10.0, 20.0], [10.0, 20.0],
     {"sector_outside": 3, "sector_owned": 2}),
    ([-30.0, -20.0, -10.0, 10.0], 15, [-20.0, -10.0, 10.0], [10.0],
     {"sector_outside": 2, "sector_margin": 1, "sector_owned": 1}),
    # Out and back: only the fix since it left comes along again.
    ([10.0, -10.0, -11.0, 10.0], 0, [10.0, -11.0, 10.0], [10.0, 10.0], {"sector_owned": 2, "sector_outside": 2}),
])
def test_gate_admits(xs, margin_m, fed, stored, counts):
    gate = SectorGate(_map("east", margin_m), hold_s=900)
    batch = [_obs("s", t, x) for t, x in enumerate(xs)]
    admitted = gate.admit(batch)
    x_of = {id(o): x for o, x in zip(batch, xs, strict=True)}
    assert [x_of[id(o)] for o in admitted.events] == fed
    assert [x_of[id(o)] for o in admitted.stored] == stored
    assert dict(gate.counts) == counts


def test_gate_counts_unsectored_as_the_default_owner():
    gate = SectorGate(_map("west"), hold_s=900)
    far = _obs("s", 0, 5000)
    assert gate.admit([far]).stored == (far,)
    assert dict(gate.counts) == {"sector_owned": 1, "sector_unsectored": 1}


def test_gate_forgets_old_fixes_outside():
    gate = SectorGate(_map("east"), hold_s=100)
    gate.admit([_obs("old", 0, -10), _obs("new", 70, -10)])
    assert gate.remembered == 2
    gate.admit([_obs("other", 160, -10)])  # "old" is 160 s behind the newest: it cannot matter; "new" (90 s) can
    assert gate.remembered == 2
    arrival = _obs("old", 161, 10)
    assert gate.admit([arrival]).events == (arrival,)


def _alerts(changes_by_worker: list[list]) -> dict[str, Alert]:
    final: dict[str, Alert] = {}
    for changes in changes_by_worker:
        for c in changes:
            final[c.alert.id] = c.alert
    return final


def _run(obs: list[Observation], settings: Settings, gate: SectorGate | None, batch: int = 37) -> dict[str, Alert]:
    p = Pipeline(CORRIDORS, settings.engine, settings.alerts, owns=gate.sectors.owns if gate else None)
    out = []
    for i in range(0, len(obs), batch):
        chunk = obs[i:i + batch]
        out.extend(p.feed_many(gate.admit(chunk).events if gate else chunk))
    out.extend(p.finish())
    return _alerts([out])


def _key(a: Alert) -> tuple:
    return a.kind, a.corridor_id, a.subject_id, a.opened_at, a.closed_at, a.state, a.updates


@pytest.mark.parametrize("margin_m", [0.0, 20.0, 300.0])
def test_two_sector_workers_raise_the_alerts_of_one(margin_m):
    obs = observations(T0)
    one = _run(obs, Settings(), None)
    by_worker = {}
    for own in ("west", "east"):
        settings = Settings(sectors={"areas": sector_areas(), "own": own, "margin_m": margin_m})
        by_worker[own] = _run(obs, settings, sector_gate(settings))
    assert not set(by_worker["west"]) & set(by_worker["east"]), "an alert raised by both workers"
    assert {k: _key(a) for k, a in {**by_worker["west"], **by_worker["east"]}.items()} == {
        k: _key(a) for k, a in one.items()}
    # The scenario is what it says: lines crossed in both sectors, the handover's line right after the boundary
    # raised by the east, and the walker in no sector by the default (west).
    owners = {(a.subject_id, a.corridor_id, a.kind.value): w for w, alerts in by_worker.items()
              for a in alerts.values()}
    assert owners[("field/handover", "edge-line", "cross")] == "east"
    assert owners[("field/handover", "west-line", "cross")] == "west"
    assert owners[("field/handover", "east-line", "cross")] == "east"
    assert owners[("field/far", "far-line", "cross")] == "west"
    assert {k[:2] for k, w in owners.items() if w == "west"} >= {(f"field/w{k}", "west-line") for k in range(3)}
    assert {k[:2] for k, w in owners.items() if w == "east"} >= {(f"field/e{k}", "east-yard") for k in range(3)}


def test_without_the_handover_fix_the_line_after_the_boundary_is_missed():
    """Why the gate remembers: an east worker fed only its own fixes never sees the step across edge-line."""
    obs = observations(T0)
    settings = Settings()
    east = _map("east")
    own = [o for o in obs if east.owns(o.lon, o.lat)]
    alerts = _run(own, settings, None)
    crossed = {(a.subject_id, a.corridor_id) for a in alerts.values()}
    assert ("field/handover", "east-line") in crossed and ("field/handover", "edge-line") not in crossed


def test_sector_polygon_round_trip():
    poly = sector_polygon(0, 10)
    assert poly["type"] == "Polygon" and poly["coordinates"][0][0] == poly["coordinates"][0][-1]
    assert SectorsConfig(areas=[{"id": "x", "polygon": poly}], own="x").areas[0].polygon == poly


def test_a_settings_file_names_sector_files_relative_to_itself(tmp_path):
    from routewatch.config.loader import load_settings

    (tmp_path / "areas").mkdir()
    for area in (WEST, EAST):
        (tmp_path / "areas" / f"{area['id']}.geojson").write_text(json.dumps(area["polygon"]))
    cfg = tmp_path / "worker.yaml"
    cfg.write_text("sectors:\n  own: east\n  margin_m: 0\n  areas:\n"
                   "    - {id: west, file: areas/west.geojson}\n    - {id: east, file: areas/east.geojson}\n")
    settings = load_settings(cfg, env={})
    assert settings.sectors.areas[1].file == tmp_path / "areas" / "east.geojson"
    gate = sector_gate(settings)
    assert gate is not None and gate.sectors.own == "east"
    assert gate.sectors.owns(*FRAME.lonlat(10, 0)) and not gate.sectors.owns(*FRAME.lonlat(-10, 0))


def test_a_restart_replays_the_sector_and_margin_and_remembers_the_rest():
    gate = SectorGate(_map("east", margin_m=15), hold_s=900)
    history = [_obs("a", 2, 10), _obs("a", 1, -10), _obs("b", 0, -40), _obs("b", 1, -30), _obs("c", 0, 5000)]
    assert [(o.subject_id, o.time) for o in gate.take_history(history)] == [
        ("a", T0 + timedelta(seconds=1)), ("a", T0 + timedelta(seconds=2))]
    assert gate.counts == {} and gate.remembered == 2  # b's and c's last fixes, not counted as live input
    arrival = _obs("b", 2, 10)
    assert [o.time for o in gate.admit([arrival]).events] == [T0 + timedelta(seconds=1), arrival.time]
    assert dict(gate.counts) == {"sector_owned": 1}


@pytest.mark.parametrize(("own", "default", "stores"), [("west", "west", True), ("east", "west", False),
                                                         ("east", "east", True)])
def test_one_worker_stores_the_dead_letters_every_worker_gets(own, default, stores):
    assert SectorGate(_map(own, default=default), hold_s=1).stores_shared_dead_letters is stores


def test_a_sector_too_large_for_a_margin_is_refused_with_the_reason():
    huge = load_sector("world", {"type": "Polygon", "coordinates": [[[-60, -40], [60, -40], [60, 40], [-60, 40],
                                                                      [-60, -40]]]}, None)
    with pytest.raises(ValueError, match=r"sectors.areas\[world\] is too large .* set sectors.margin_m to 0"):
        SectorMap([huge], own="world", default="world", margin_m=100)
    assert SectorMap([huge], own="world", default="world", margin_m=0).owns(0, 0)
