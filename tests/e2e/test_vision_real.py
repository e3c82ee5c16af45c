"""Real video, real model: cars on a street tracked with stable ids and turned into the hand-labelled alerts.

../shared/data/video/traffic_topdown.mp4 with ../shared/data/models/yolo11n_int8_openvino_model (the
detect extra); skipped when either is absent. The scene, its calibration and the passages labelled by
eye are in streetscene.py: the expected alerts come from there, not from routewatch.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from click.testing import CliRunner

from routewatch.cli.main import main
from routewatch.geo.corridors import dumps_geojson
from routewatch.geo.homography import Calibration, GroundControlPoint
from routewatch.model import Observation
from routewatch.store import Store
from tests.e2e import streetscene as scene
from tests.kits.require import require_file


@pytest.fixture(scope="module")
def video(shared_data: Path) -> Path:
    return require_file(shared_data / "video" / scene.VIDEO)


@pytest.fixture(scope="module")
def model(openvino_model: str) -> str:
    return openvino_model


@pytest.fixture(scope="module")
def times(video: Path) -> list[float]:
    t = scene.frame_times(video)
    assert len(t) == 734  # PROVENANCE.md: 734 decodable frames (the header says 754)
    return t


def calibration() -> Calibration:
    gcps = [GroundControlPoint(u, v, *scene.FRAME.lonlat(x, y)) for (u, v), (x, y) in scene.GCPS]
    return Calibration.from_gcps(gcps, max_error_m=scene.MAX_ERROR_M)


def test_the_calibration_passes_the_check_and_keeps_its_gcps_within_half_a_metre():
    cal = calibration()
    assert max(cal.errors_m) < 0.5 and cal.rms_error_m < 0.3, cal.errors_m


# Sizes the camera model was fitted to (pixels measured on frame 200); the six-point homography that
# routewatch fits must keep them: a calibration off in scale or shear would not.
@pytest.mark.parametrize(("what", "a", "b", "metres"), [
    ("Hummer H2 length along the near curb", (165, 300), (300, 305), 5.2),
    ("white sedan length along the near curb", (312, 306), (462, 314), 4.6),
    ("silver sedan wheelbase, far side", (95, 147), (124, 142), 2.7),
    ("red SUV wheelbase, far side", (152, 137), (186, 130), 2.7),
    ("black sedan wheelbase, far side", (224, 129), (268, 123), 2.7),
])
def test_the_calibration_measures_parked_cars_to_15_percent(what, a, b, metres):
    cal = calibration()
    pa, pb = cal.to_ground(*a), cal.to_ground(*b)
    assert pa is not None and pb is not None
    d = math.dist(scene.FRAME.xy(*pa), scene.FRAME.xy(*pb))
    assert abs(d - metres) <= 0.15 * metres, (what, d)


def test_bare_ultralytics_tracks_cross_the_gate_as_labelled(video, model, times, monkeypatch):
    """The cross-check of the labels: Ultralytics' own model.track(), our own homography and gate rule."""
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    yolo = YOLO(model, task="detect")
    ids = [i for i, n in yolo.names.items() if n in scene.CLASSES]
    h = scene.pixel_to_ground()
    tracks: dict[str, list[tuple[datetime, float, float, str]]] = defaultdict(list)
    frames = 0
    results = yolo.track(str(video), stream=True, persist=True, verbose=False, classes=ids, conf=0.35,
                         tracker="bytetrack.yaml")
    for i, r in enumerate(results):
        frames += 1
        b = r.boxes
        if b is None or b.id is None:
            continue
        for (x1, _, x2, y2), tid, c in zip(b.xyxy.tolist(), b.id.tolist(), b.cls.tolist(), strict=True):
            x, y = scene.to_ground(h, (x1 + x2) / 2, y2)
            tracks[str(int(tid))].append((scene.label_time(times, i), x, y, yolo.names[int(c)]))
    assert frames == len(times)
    matched = scene.check_against_labels(scene.gate_crossings(tracks), times)
    assert sum(map(len, matched.values())) >= sum(p.required for p in scene.PASSAGES)


def _summary(output: str) -> dict[str, object]:
    # Ultralytics may print "Loading ..." lines before the JSON summary.
    lines = output.splitlines()
    start = lines.index("{")
    data: dict[str, object] = json.loads("\n".join(lines[start:]))
    return data


def test_street_video_end_to_end_gives_the_hand_labelled_alerts(tmp_path, db_url, video, model, times,
                                                                monkeypatch):
    # Both databases: about 40 s each on one CPU core, most of it YOLO.
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    gcps = [[u, v, *scene.FRAME.lonlat(x, y)] for (u, v), (x, y) in scene.GCPS]
    cam = tmp_path / "street.yaml"
    cam.write_text(json.dumps({"name": "street", "start_time": scene.T0.isoformat(), "fps": 10, "gcps": gcps,
                               "max_error_m": scene.MAX_ERROR_M,
                               "detector": {"model": model, "classes": scene.CLASSES}}))
    corridors = tmp_path / "street.geojson"
    corridors.write_text(dumps_geojson(scene.corridors()))
    settings = tmp_path / "settings.yaml"
    settings.write_text(scene.SETTINGS_YAML)
    runner = CliRunner()
    res = runner.invoke(main, ["analyze", str(video), "--camera", str(cam), "--corridors", str(corridors),
                               "-c", str(settings), "--db", db_url, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    summary = _summary(res.output)
    ingest = summary["ingest"]
    assert isinstance(ingest, dict) and ingest["frames"] == len(times)
    assert 0 < ingest["detector_calls"] < ingest["frames_processed"]  # the motion gate spared some frames
    listed = runner.invoke(main, ["alerts", "list", "--json", "--db", db_url])
    assert listed.exit_code == 0, listed.output
    alerts = [json.loads(line) for line in listed.output.splitlines() if line.strip()]
    assert Counter(a["kind"] for a in alerts) == summary["alerts_opened"]
    assert {(a["kind"], a["corridor_id"]) for a in alerts} <= {("cross", "gate"), ("along", "westbound")}

    # The gate: one alert per labelled passage, at its time, the right way, of the right class.
    gate = [a for a in alerts if a["corridor_id"] == "gate"]
    assert all(a["detail"] in (f"crossed {scene.EAST}", f"crossed {scene.WEST}") for a in gate), gate
    matched = scene.check_against_labels(
        [scene.Crossing(datetime.fromisoformat(a["opened_at"]), a["detail"].removeprefix("crossed "),
                        a["subject_id"], a["subject_class"]) for a in gate], times)
    for a in gate:
        if a["heading_deg"] is not None:  # None when the track had not moved 5 m before the gate
            east = a["detail"].endswith(scene.EAST)
            assert abs(a["heading_deg"] - (90.0 if east else 270.0)) < 30.0, a

    # The westbound lane: an along alert for each car going west, on the track that crossed the gate,
    # while it is near the gate; none for the cars going east.
    passage_of = {c.subject: p for p in scene.PASSAGES for c in matched[p.name]}
    along: dict[str, int] = defaultdict(int)
    for a in (a for a in alerts if a["kind"] == "along"):
        p = passage_of.get(a["subject_id"])
        assert p is not None and p.direction == scene.WEST, a
        along[p.name] += 1
        late = datetime.fromisoformat(a["opened_at"]) - scene.label_time(times, p.frame)
        assert abs(late) <= timedelta(seconds=2.5), (p, a)
        assert a["heading_deg"] is not None and abs(a["heading_deg"] - 270.0) < 30.0, a
    assert all(n == 1 for n in along.values()), along
    assert {p.name for p in scene.PASSAGES if p.direction == scene.WEST and p.required} <= set(along), along

    with Store(db_url) as store:
        fixes = store.positions.since(scene.T0)
        tracks: dict[str, list[Observation]] = defaultdict(list)
        for o in fixes:
            tracks[o.subject_id].append(o)
        xy = {s: [scene.FRAME.xy(o.lon, o.lat) for o in obs] for s, obs in tracks.items()}

        # Parked cars: tracked for long, never moving 1.5 m; one is the Hummer right at the gate. No alert.
        parked = {s for s, pts in xy.items() if len(pts) >= 20 and max(math.dist(p, pts[0]) for p in pts) < 1.5}
        assert len(parked) >= 5, sorted(parked)
        at_gate = [s for s in parked if abs(statistics.median(x for x, _ in xy[s]) - scene.GATE_X) < 1.0
                   and (tracks[s][-1].time - tracks[s][0].time).total_seconds() > 50.0]
        assert at_gate, "the Hummer parked at the gate is not tracked"
        assert not parked & {a["subject_id"] for a in alerts}

        # Stable ids. The white sedan (F) drives the whole view, left edge to past the tree on the right:
        # one track id all the way, with no gap, and no other id in its lane meanwhile.
        (f,) = matched["F"]
        obs, xs = tracks[f.subject], [x for x, _ in xy[f.subject]]
        assert xs[0] < -18.0 and xs[-1] > 2.0, (xs[0], xs[-1])
        assert max((b.time - a.time).total_seconds() for a, b in pairwise(obs)) < 1.0
        lane = store.positions.within(scene.eastbound_lane_area(), obs[0].time, obs[-1].time + timedelta(seconds=1))
        assert {o.subject_id for o in lane} == {f.subject}
        # The red hatchback (D) keeps its id from the gate to the far left, over 20 m of street.
        (d,) = matched["D"]
        xs = [x for x, _ in xy[d.subject]]
        assert max(xs) - min(xs) > 20.0 and max(xs) > scene.GATE_X + scene.HYSTERESIS_M
