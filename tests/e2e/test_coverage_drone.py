"""Coverage from a drone camera: the synthetic flight (tests/kits/dronescene.py) through `analyze`, then `coverage`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from shapely.geometry import Polygon, box, shape

from routewatch.cli.main import main
from routewatch.geo.corridors import dumps_geojson
from routewatch.model import Corridor, CorridorKind
from tests.e2e.test_vision_drone import camera_file
from tests.kits import dronescene as scene

FRAME, T0 = scene.FRAME, scene.T0
EVERYWHERE = Corridor("everywhere", FRAME.to_lonlat(box(-400, -400, 400, 400)), kind=CorridorKind.OPERATING_AREA)
FAR = Corridor("far", FRAME.to_lonlat(box(2000, 2000, 2100, 2100)), kind=CorridorKind.EXCLUSION)
PERIOD = 0.2  # the camera file's fps is 5
# Frames have a pose from 0 s until the telemetry gap (GAP: no telemetry in 15.95 .. 18.55 s, pose
# gap 0.5 s): the first frame without one is at 16.0 s, the first with one again at 18.6 s.
COVERED = [(0.0, 16.0), (18.6, scene.SECONDS)]


def secs(text: str) -> float:
    return (datetime.fromisoformat(text) - T0).total_seconds()


def truth(t: float) -> Polygon:
    """The image's outline on the ground at time t, from the scene's own projection (metres)."""
    p = scene.drone(t)
    return Polygon([scene.ground(p, u, v) for u, v in [(0, 0), (scene.W, 0), (scene.W, scene.H), (0, scene.H)]])


@pytest.fixture(scope="module")
def flown(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    d = tmp_path_factory.mktemp("flight")
    video = d / "flight.avi"
    scene.render(video)
    scene.telemetry(d / "flight.tlog")
    corridors = d / "c.geojson"
    corridors.write_text(dumps_geojson([EVERYWHERE, FAR]))
    db = f"sqlite:///{d / 'drone.db'}"
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(camera_file(d / "cam.json")),
                                    "--corridors", str(corridors), "--db", db, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    res = CliRunner().invoke(main, ["coverage", "--from", (T0 - timedelta(seconds=5)).isoformat(), "--to",
                                    (T0 + timedelta(seconds=25)).isoformat(), "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    return summary, json.loads(res.output)


def test_covered_while_posed_and_a_gap_where_telemetry_is_missing(flown: tuple[dict, dict]) -> None:
    summary, got = flown
    by_id = {c["id"]: c for c in got["corridors"]}
    cov = by_id["everywhere"]
    spans: list[list[float]] = []
    for i in cov["intervals"]:  # consecutive samples join up into the covered stretches
        a, b = secs(i["from"]), secs(i["to"])
        if spans and abs(spans[-1][1] - a) < 1e-9:
            spans[-1][1] = b
        else:
            spans.append([a, b])
    assert len(spans) == len(COVERED)
    for (a, b), (ea, eb) in zip(spans, COVERED, strict=True):
        assert abs(a - ea) <= PERIOD + 1e-6 and abs(b - eb) <= PERIOD + 1e-6, spans
    gaps = [(secs(g["from"]), secs(g["to"])) for g in cov["gaps"]]
    assert len(gaps) == 3 and gaps[0][0] == -5.0 and gaps[-1][1] == 25.0
    assert abs(gaps[1][0] - 16.0) <= PERIOD and abs(gaps[1][1] - 18.6) <= PERIOD
    # Sampled, not per frame: a new sample at least every 5 s, or when the view moved 10 m.
    frames = summary["ingest"]["frames_processed"]
    assert 4 <= summary["ingest"]["coverage_rows"] <= frames / 5, summary["ingest"]
    assert by_id["far"]["intervals"] == [] and [(secs(g["from"]), secs(g["to"])) for g in by_id["far"]["gaps"]] \
        == [(-5.0, 25.0)]


def test_each_sample_is_where_the_camera_looked(flown: tuple[dict, dict]) -> None:
    _, got = flown
    samples = [f for f in got["layer"]["features"]
               if f["properties"]["layer"] == "interval" and f["properties"]["corridor_id"] == "everywhere"]
    assert len(samples) >= 4
    for f in samples:
        t = secs(f["properties"]["from"])
        seen = FRAME.to_local(shape(f["geometry"]))
        expected = truth(t)
        # The far edge is ~110 m out; telemetry rounding (1e-7 deg, float angles) moves it by millimetres.
        assert seen.hausdorff_distance(expected) < 0.25, (t, seen.hausdorff_distance(expected))
        assert abs(seen.area - expected.area) < 0.005 * expected.area
