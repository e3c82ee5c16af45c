"""The demo's camera: a rendered video of a person crossing the border, by motion alone and by YOLO."""

from __future__ import annotations

import json
from datetime import datetime

from click.testing import CliRunner

from routewatch.app.demo.camera import SPEED_M_S, WALK_FROM_S, WALK_X, WALK_Y0, camera, render
from routewatch.app.demo.scenario import FRAME, START, corridors_path
from routewatch.cli.main import main
from routewatch.store import Store

CROSS_S = WALK_FROM_S + (0.0 - WALK_Y0) / SPEED_M_S  # the feet reach the border (y = 0)


def _analyze(tmp_path, db_url, model: str | None = None) -> list[dict]:
    video = render(tmp_path / "cam.avi")
    cfg = camera(video, realtime=False)
    if model is not None:
        cfg = cfg.model_copy(update={"detector": cfg.detector.model_copy(update={"model": model})})
    cam = tmp_path / "cam.json"
    cam.write_text(cfg.model_dump_json())
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam), "--corridors", str(corridors_path()),
                                    "--db", db_url, "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = CliRunner().invoke(main, ["alerts", "list", "--db", db_url, "--json"]).stdout
    return [json.loads(x) for x in out.splitlines()]


def _check_cross(alerts: list[dict], db_url: str) -> None:
    cross = next(a for a in alerts if a["kind"] == "cross")
    x, y = FRAME.xy(cross["lon"], cross["lat"])
    assert abs(x - WALK_X) < 1.5 and abs(y) < 0.5, (x, y)
    t = (datetime.fromisoformat(cross["opened_at"]) - START).total_seconds()
    assert abs(t - CROSS_S) < 1.0, t
    with Store(db_url) as store:  # every camera alert keeps the frame it opened on
        assert all(store.snapshots.get(a["id"]) is not None for a in alerts)


def test_demo_camera_raises_the_expected_alerts_by_motion(tmp_path, db_url):
    alerts = _analyze(tmp_path, db_url)
    assert {(a["kind"], a["subject_id"], a["corridor_id"], a["subject_class"]) for a in alerts} == {
        ("enter", "border-cam/1", "arroyo-trail", "moving_object"),
        ("cross", "border-cam/1", "border-east", "moving_object")}
    _check_cross(alerts, db_url)


def test_demo_camera_with_yolo_sees_a_person(tmp_path, openvino_model, monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    db_url = f"sqlite:///{tmp_path / 'yolo.db'}"
    alerts = _analyze(tmp_path, db_url, model=openvino_model)
    assert {(a["kind"], a["corridor_id"], a["subject_class"]) for a in alerts} == {
        ("enter", "arroyo-trail", "person"), ("cross", "border-east", "person")}
    assert len({a["subject_id"] for a in alerts}) == 1  # one track from entering the view to the crossing
    _check_cross(alerts, db_url)
