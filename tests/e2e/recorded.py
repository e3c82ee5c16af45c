"""A recorded synthetic run for replay and export tests: the gate scene analysed with recording on.

The walker of test_vision_fixed crosses the gate line, so the run leaves one alert (with a
snapshot), its track's positions, and 25 s of 5 fps recorded segments with boxes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from shapely.geometry import LineString

from routewatch.cli.main import main
from routewatch.geo.corridors import dumps_geojson
from routewatch.model import Corridor, CorridorKind

from .test_vision_fixed import FRAME, GCP_POINTS, camera_file, render

SEGMENT_S = 10.0


@dataclass(frozen=True)
class RecordedRun:
    db_url: str
    root: Path
    config: Path


def record_gate_run(tmp_path: Path, db_url: str) -> RecordedRun:
    """Render, analyse with recording on (the CLI, as a user would), and return where it all went."""
    video = tmp_path / "gate.avi"
    render(video)
    cam_path = camera_file(tmp_path / "camera.json", GCP_POINTS)
    cam = json.loads(cam_path.read_text())
    cam_path.write_text(json.dumps({**cam, "recording": {"enabled": True, "segment_s": SEGMENT_S}}))
    line = Corridor("gate-line", FRAME.to_lonlat(LineString([(0, 30), (100, 30)])), kind=CorridorKind.LINE)
    corridors = tmp_path / "corridors.geojson"
    corridors.write_text(dumps_geojson([line]))
    root = tmp_path / "rec"
    config = tmp_path / "settings.yaml"
    config.write_text(json.dumps({"recording": {"dir": str(root), "min_free_bytes": 0, "resume_free_bytes": 0}}))
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam_path), "--corridors", str(corridors),
                                    "--db", db_url, "-c", str(config), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return RecordedRun(db_url, root, config)
