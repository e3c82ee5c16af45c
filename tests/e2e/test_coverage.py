"""Coverage end to end: a rendered video through `routewatch analyze --camera`, then `routewatch coverage`."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import box, shape

from routewatch.analysis.coverage import coverage_report
from routewatch.app.live import run_live
from routewatch.cli.main import main
from routewatch.config.schema import Settings
from routewatch.geo.corridors import dumps_geojson
from routewatch.model import Corridor, CorridorKind
from routewatch.store import Store
from tests.e2e.test_vision_fixed import FRAME, GCP_POINTS, T0, camera_file, render

SECONDS, FPS = 25.0, 10.0
INSIDE = Corridor("inside", FRAME.to_lonlat(box(40, 20, 60, 40)), kind=CorridorKind.EXCLUSION)
# 250 m south of the camera's nearest ground: within range, but below the bottom of the image.
OUTSIDE = Corridor("outside", FRAME.to_lonlat(box(40, -300, 60, -250)), kind=CorridorKind.EXCLUSION)
FROM, TO = T0 - timedelta(seconds=10), T0 + timedelta(seconds=60)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def secs(text: str) -> float:
    return (datetime.fromisoformat(text) - T0).total_seconds()


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding the fixed camera's footprints after `analyze` of its 25 s video (SQLite)."""
    d = tmp_path_factory.mktemp("coverage")
    video = d / "gate.avi"
    render(video, seconds=SECONDS, fps=FPS)
    cam = camera_file(d / "camera.json", GCP_POINTS)
    corridors = d / "c.geojson"
    corridors.write_text(dumps_geojson([INSIDE, OUTSIDE]))
    db = f"sqlite:///{d / 'cov.db'}"
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam), "--corridors", str(corridors),
                                    "--db", db, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["ingest"]["coverage_rows"] == 1
    return db


def coverage(db: str, *args: str) -> dict:
    res = CliRunner().invoke(main, ["coverage", "--from", iso(FROM), "--to", iso(TO), "--db", db, "--json", *args],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_the_corridor_in_view_is_covered_for_the_video_and_the_other_never(analyzed: str) -> None:
    got = coverage(analyzed)
    assert got["cameras"] == ["gate"] and got["footprints"] == 1
    by_id = {c["id"]: c for c in got["corridors"]}
    inside, outside = by_id["inside"], by_id["outside"]
    # Covered for exactly the video's span [T0, T0 + 25 s), within a frame, and wholly.
    [interval] = inside["intervals"]
    assert abs(secs(interval["from"])) <= 1 / FPS and abs(secs(interval["to"]) - SECONDS) <= 1 / FPS
    assert interval["fraction"] == pytest.approx(1.0) and interval["cameras"] == ["gate"]
    assert [(secs(g["from"]), secs(g["to"])) for g in inside["gaps"]] == \
        [(-10.0, secs(interval["from"])), (secs(interval["to"]), 60.0)]
    assert inside["covered_s"] == pytest.approx(SECONDS, abs=1 / FPS) and inside["ever_fraction"] == 1.0
    assert inside["in_force_s"] == 70.0
    # The corridor out of view: never covered, one gap spanning the window.
    assert outside["intervals"] == [] and outside["covered_s"] == 0.0 and outside["ever_fraction"] == 0.0
    assert [(secs(g["from"]), secs(g["to"])) for g in outside["gaps"]] == [(-10.0, 60.0)]
    # The map layer: the covered part of the corridor in view is the corridor itself.
    layer = got["layer"]
    assert layer["type"] == "FeatureCollection"
    covered = [f for f in layer["features"] if f["properties"]["layer"] == "covered"]
    assert [f["properties"]["corridor_id"] for f in covered] == ["inside"]
    part = FRAME.to_local(shape(covered[0]["geometry"]))
    assert part.hausdorff_distance(box(40, 20, 60, 40)) < 0.02  # coordinates are given to 1e-7 degrees (~1 cm)
    assert [f["properties"]["corridor_id"] for f in layer["features"] if f["properties"]["layer"] == "interval"] \
        == ["inside"]


def test_one_corridor_and_the_table(analyzed: str) -> None:
    got = coverage(analyzed, "--corridor", "outside")
    assert [c["id"] for c in got["corridors"]] == ["outside"] and got["layer"]["features"] == []
    res = CliRunner().invoke(main, ["coverage", "--from", iso(FROM), "--to", iso(TO), "--db", analyzed])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert any(line.startswith("inside ") and "100.0%" in line for line in lines), res.output
    assert sum("covered 2026-05-01 03:00:00" in line and "by gate" in line for line in lines) == 1, res.output
    assert sum(line.strip().startswith("gap") for line in lines) == 3, res.output


def test_history_versions_saved_after_the_video_cover_nothing(analyzed: str) -> None:
    # The corridors were saved by `analyze` now, long after the video's event time: as they were in
    # force then, there was nothing to cover.
    got = coverage(analyzed, "--versions", "history")
    assert got["corridors"] == []


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2026-05-01T03:00:00Z", "--to", "2026-05-01T03:00:00Z"], "empty"),
    (["--from", "2026-05-01T03:00:00Z", "--to", "2026-05-01T02:00:00Z"], "reversed"),
    (["--from", "2026-01-01T00:00:00Z", "--to", "2026-05-01T00:00:00Z"], "at most 31 days"),
    (["--from", "2026-05-01T03:00:00", "--to", "2026-05-01T04:00:00Z"], "time zone"),
    (["--from", "yesterday", "--to", "2026-05-01T04:00:00Z"], "ISO 8601"),
    (["--from", "2026-05-01T03:00:00Z", "--to", "2026-05-01T04:00:00Z", "--corridor", "nope"], "no corridor 'nope'"),
    (["--from", "2026-05-01T03:00:00Z", "--to", "2026-05-01T04:00:00Z", "--versions", "some"], "versions"),
])
def test_bad_input(analyzed: str, args: list[str], message: str) -> None:
    res = CliRunner().invoke(main, ["coverage", "--db", analyzed, *args])
    assert res.exit_code == 2 and message in res.output, res.output


def test_an_empty_database(tmp_path: Path) -> None:
    got = coverage(f"sqlite:///{tmp_path / 'empty.db'}")
    assert got["corridors"] == [] and got["footprints"] == 0 and got["layer"]["features"] == []


def test_run_records_the_footprint_too(tmp_path: Path, db_url: str) -> None:
    # The same video as a camera of `run` (a file source), corridors saved the day before: measured
    # as they were in force, the corridor in view is covered for the video's span.
    video = tmp_path / "gate.avi"
    render(video, seconds=SECONDS, fps=FPS)
    cam = json.loads(camera_file(tmp_path / "camera.json", GCP_POINTS).read_text())
    settings = Settings.model_validate({
        "cameras": [{**cam, "url": str(video), "evidence": {"enabled": False}}],
        "store": {"url": db_url, "flush_s": 0.2, "journal_dir": str(tmp_path / "journal")},
    })
    with Store(db_url) as store:
        store.upgrade()
        saved = store.corridors.save([INSIDE, OUTSIDE], author="test", comment="", at=T0 - timedelta(days=1))
        summary = asyncio.run(run_live(settings, store, saved, stop=asyncio.Event(), exit_when_files_done=True))
        assert summary.ingest["coverage_rows"] == 1
        report = coverage_report(store, FROM, TO, versions="history")
    by_id = {c.corridor.id: c for c in report.corridors}
    [interval] = by_id["inside"].intervals
    assert abs((interval.start - T0).total_seconds()) <= 1 / FPS
    assert abs((interval.end - T0).total_seconds() - SECONDS) <= 1 / FPS
    assert interval.fraction == pytest.approx(1.0) and interval.cameras == ("gate",)
    assert by_id["outside"].intervals == () and [(g.start, g.end) for g in by_id["outside"].gaps] == [(FROM, TO)]
