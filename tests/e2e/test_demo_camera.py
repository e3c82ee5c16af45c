"""The demo's camera: a rendered video of a person crossing the border, found without a model."""

from __future__ import annotations

import json

from click.testing import CliRunner

from routewatch.cli import main
from routewatch.demo.camera import SPEED_M_S, WALK_FROM_S, WALK_X, camera, render
from routewatch.demo.scenario import FRAME, START, corridors_path


def test_demo_camera_raises_the_expected_alerts(tmp_path, db_url):
    video = render(tmp_path / "cam.avi")
    cam = tmp_path / "cam.json"
    cam.write_text(camera(video, realtime=False).model_dump_json())
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam), "--corridors", str(corridors_path()),
                                    "--db", db_url, "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = CliRunner().invoke(main, ["alerts", "list", "--db", db_url, "--json"]).stdout
    alerts = [json.loads(x) for x in out.splitlines()]
    assert {(a["kind"], a["subject_id"], a["corridor_id"], a["subject_class"]) for a in alerts} == {
        ("enter", "border-cam/1", "arroyo-trail", "moving_object"),
        ("cross", "border-cam/1", "border-east", "moving_object")}
    cross = next(a for a in alerts if a["kind"] == "cross")
    x, y = FRAME.xy(cross["lon"], cross["lat"])
    assert abs(x - WALK_X) < 3.0 and abs(y) < 0.5
    # The walker's centre crosses at WALK_FROM_S + 35 / SPEED; the tracked point is its near edge.
    t = (datetime_of(cross["opened_at"]) - START).total_seconds()
    assert abs(t - (WALK_FROM_S + 35.0 / SPEED_M_S)) < 2.0, t


def datetime_of(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)
