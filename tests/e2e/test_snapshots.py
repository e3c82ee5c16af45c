"""Alerts raised from video keep a JPEG snapshot with the tracked box drawn where the target was.

The synthetic gate scene of test_vision_fixed (a bright 2 m square walking north across a line)
goes through `routewatch analyze --camera` and through the live runner (`run`) reading the file;
each opened alert of the camera must have a snapshot of the camera's size whose drawn box sits on
the target's projected footprint at the alert's opening time.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner
from shapely.geometry import LineString

from routewatch.app.live import run_live
from routewatch.cli.main import main
from routewatch.config.schema import Settings
from routewatch.geo.corridors import dumps_geojson
from routewatch.model import Alert, Corridor, CorridorKind
from routewatch.recording.evidence import BOX_BGR
from routewatch.store import Store

from .test_vision_fixed import FRAME, GCP_POINTS, IMG_H, IMG_W, T0, camera_file, render, to_image, truth

# The drawn box vs the target's projected footprint (about 6 x 8 px where it crosses): the motion
# region is found at half size, blurred and dilated, so it is several pixels wider on every side;
# the box line is 3 px and JPEG blurs it. The box must enclose the footprint, be centred on it
# within CENTRE_PX, and reach no further than MARGIN_PX beyond it.
CENTRE_PX = 4
MARGIN_PX = 14
EDGE_PX = 4  # drawn line vs the stored box: half the line width plus JPEG blur
PERIOD = timedelta(seconds=1 / 5)  # the camera file's fps: frames processed


def gate_line(tmp_path: Path) -> Path:
    line = Corridor("gate-line", FRAME.to_lonlat(LineString([(0, 30), (100, 30)])), kind=CorridorKind.LINE)
    path = tmp_path / "c.geojson"
    path.write_text(dumps_geojson([line]))
    return path


def footprint(t_s: float) -> tuple[float, float, float, float]:
    """Image bounding box of the rendered target (its 2 m square) at t seconds."""
    x, y = truth(t_s)
    corners = [to_image(x + dx, y + dy) for dx in (-1.0, 1.0) for dy in (-1.0, 1.0)]
    us, vs = [u for u, _ in corners], [v for _, v in corners]
    return min(us), min(vs), max(us), max(vs)


def drawn_box(jpeg: bytes) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The decoded snapshot and the bounding box of its box-coloured pixels."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "snapshot does not decode as an image"
    b, g, r = (image[..., k].astype(int) for k in range(3))
    mask = (abs(b - BOX_BGR[0]) < 70) & (abs(g - BOX_BGR[1]) < 90) & (abs(r - BOX_BGR[2]) < 70)
    ys, xs = np.nonzero(mask)
    assert len(xs) > 20, "no box drawn in the snapshot"
    return image, (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def check_snapshots(store: Store, alerts: list[Alert], *, late: bool = False) -> None:
    """Each camera alert has a snapshot of its opening frame (`late`: of a later frame) with the box on the target."""
    camera_alerts = [a for a in alerts if a.subject_id.startswith("gate/")]
    assert camera_alerts, "no alert raised from the camera"
    assert store.snapshots.alert_ids_with([a.id for a in alerts]) == {a.id for a in camera_alerts}
    for alert in camera_alerts:
        snap = store.snapshots.get(alert.id)
        assert snap is not None
        assert snap.camera == "gate"
        if late:
            assert snap.time > alert.opened_at
        else:  # the frame at, or nearest before, the opening (a crossing opens between two processed frames)
            assert timedelta(0) <= alert.opened_at - snap.time <= PERIOD
        image, (x1, y1, x2, y2) = drawn_box(snap.jpeg)
        assert image.shape == (IMG_H, IMG_W, 3) and (snap.width, snap.height) == (IMG_W, IMG_H)
        # The drawn box is the stored (tracked) box...
        assert all(abs(a - b) <= EDGE_PX for a, b in zip((x1, y1, x2, y2), snap.box, strict=True)), (x1, snap.box)
        # ...and it sits on the target: around its footprint at the frame's time, centred on it, not far off.
        fx1, fy1, fx2, fy2 = footprint((snap.time - T0).total_seconds())
        assert x1 <= fx1 and y1 <= fy1 and x2 >= fx2 and y2 >= fy2, ((x1, y1, x2, y2), (fx1, fy1, fx2, fy2))
        assert abs((x1 + x2) / 2 - (fx1 + fx2) / 2) <= CENTRE_PX and abs((y1 + y2) / 2 - (fy1 + fy2) / 2) <= CENTRE_PX
        assert max(fx1 - x1, fy1 - y1, x2 - fx2, y2 - fy2) <= MARGIN_PX, ((x1, y1, x2, y2), (fx1, fy1, fx2, fy2))


def test_analyze_stores_a_snapshot_per_camera_alert(tmp_path: Path, db_url: str) -> None:
    video = tmp_path / "gate.avi"
    render(video)
    cam = camera_file(tmp_path / "camera.json", GCP_POINTS)
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam), "--corridors",
                                    str(gate_line(tmp_path)), "--db", db_url, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with Store(db_url) as store:
        alerts = store.alerts.find()
        assert [(a.kind.value, a.corridor_id) for a in alerts] == [("cross", "gate-line")]
        check_snapshots(store, alerts)
    # A second run over the same video is idempotent: same alerts, same (single) snapshot.
    again = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam), "--corridors",
                                      str(gate_line(tmp_path)), "--db", db_url], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    with Store(db_url) as store:
        assert store.alerts.find() == alerts and store.snapshots.count() == 1


def test_a_tiny_cache_still_gets_a_snapshot_in_analyze(tmp_path: Path) -> None:
    # Two cached frames: analyze must hand each chunk to the pipeline (and commit) before its frames go.
    # The crossing is confirmed seconds after it began (hysteresis, confirm_s), when the opening frame
    # has left so small a cache: the snapshot is of the track's oldest cached frame after it.
    video = tmp_path / "gate.avi"
    render(video)
    cam_path = camera_file(tmp_path / "camera.json", GCP_POINTS)
    cam = json.loads(cam_path.read_text())
    cam["evidence"] = {"cache_frames": 2, "cache_s": 0.5, "jpeg_quality": 60}
    cam_path.write_text(json.dumps(cam))
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam_path), "--corridors",
                                    str(gate_line(tmp_path)), "--db", db], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with Store(db) as store:
        check_snapshots(store, store.alerts.find(), late=True)


def test_snapshots_can_be_turned_off(tmp_path: Path) -> None:
    video = tmp_path / "gate.avi"
    render(video)
    cam_path = camera_file(tmp_path / "camera.json", GCP_POINTS)
    cam = json.loads(cam_path.read_text())
    cam["evidence"] = {"enabled": False}
    cam_path.write_text(json.dumps(cam))
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam_path), "--corridors",
                                    str(gate_line(tmp_path)), "--db", db], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with Store(db) as store:
        assert len(store.alerts.find()) == 1 and store.snapshots.count() == 0


def test_run_stores_snapshots_off_the_event_loop(tmp_path: Path, db_url: str) -> None:
    video = tmp_path / "gate.avi"
    render(video)
    cam = json.loads(camera_file(tmp_path / "camera.json", GCP_POINTS).read_text())
    settings = Settings.model_validate({
        "cameras": [{**cam, "url": str(video)}],
        "store": {"url": db_url, "flush_s": 0.2, "journal_dir": str(tmp_path / "journal")},
    })
    line = Corridor("gate-line", FRAME.to_lonlat(LineString([(0, 30), (100, 30)])), kind=CorridorKind.LINE)
    with Store(db_url) as store:
        store.upgrade()
        saved = store.corridors.save([line], author="test", comment="", at=T0 - timedelta(days=1))

        async def go() -> None:
            await run_live(settings, store, saved, stop=asyncio.Event(), exit_when_files_done=True)

        asyncio.run(go())
        alerts = store.alerts.find()
        assert [(a.kind.value, a.corridor_id) for a in alerts] == [("cross", "gate-line")]
        check_snapshots(store, alerts)
