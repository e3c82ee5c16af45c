"""`routewatch export`: an alert's clip decodes with the recorded frames, boxes burned in or not, tracks, report."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from routewatch.cli import main
from routewatch.recording.read import frames_between
from routewatch.store import Store
from tests.web.conftest import lifecycle, make_alert

from .recorded import record_gate_run
from .test_recording import decode

BEFORE_S, AFTER_S = 2.0, 3.0


def magenta(image: np.ndarray) -> int:
    """Pixels of the burned-in box colour (BOX_BGR, magenta), with room for MPEG-4 compression."""
    b, g, r = (image[..., i].astype(int) for i in range(3))
    return int(np.count_nonzero((b > 180) & (r > 180) & (g < 90)))


def export(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["export", *args])
    return res.exit_code, res.output


def test_an_alert_exports_clip_tracks_and_report(tmp_path: Path, db_url: str) -> None:
    run = record_gate_run(tmp_path, db_url)
    with Store(db_url) as store:
        (alert,) = store.list_alerts()
        since = alert.opened_at - timedelta(seconds=BEFORE_S)
        until = (alert.closed_at or alert.last_seen) + timedelta(seconds=AFTER_S)
        frames = frames_between(store, "gate", since, until)
        fixes = store.positions(alert.subject_id, since, until)
        snap = store.get_snapshot(alert.id)
    assert frames and fixes and snap is not None
    clips = {}
    for flag in ("--boxes", "--no-boxes"):
        out = tmp_path / flag.strip("-")
        code, text = export("--alert", alert.id, "--out", str(out), "--db", db_url, "-c", str(run.config),
                            "--before", str(BEFORE_S), "--after", str(AFTER_S), flag)
        assert code == 0, text
        (clip,) = out.glob("*.mp4")
        clips[flag] = clip
        cap = cv2.VideoCapture(str(clip))
        fps, count = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        images = decode(clip)
        # As many frames as were recorded in the range, at the recording's rate: the duration is theirs.
        assert len(images) == count == len(frames)
        span = (frames[-1].time - frames[0].time).total_seconds() + 0.2
        assert fps == pytest.approx(5.0) and count / fps == pytest.approx(span, abs=1e-6)
        assert images[0].shape[:2] == (snap.height, snap.width)
        boxed = [magenta(img) for img, f in zip(images, frames, strict=True) if f.boxes]
        plain = [magenta(img) for img, f in zip(images, frames, strict=True) if not f.boxes]
        assert boxed, "the range holds frames with tracked boxes"
        if flag == "--boxes":
            assert min(boxed) > 100 and max(plain, default=0) < 20
        else:
            assert max(boxed + plain) < 20

    out = tmp_path / "boxes"
    geo = json.loads(next(out.glob("*.geojson")).read_text())
    points = [f["geometry"]["coordinates"] for f in geo["features"] if f["geometry"]["type"] == "Point"]
    assert points == [[f.lon, f.lat] for f in fixes]
    times = [f["properties"]["time"] for f in geo["features"] if f["geometry"]["type"] == "Point"]
    assert times == [f.time.isoformat() for f in fixes]
    kml = next(out.glob("*.kml")).read_text()
    assert kml.count("<Point>") == len(fixes) and "<LineString>" in kml
    report = next(out.glob("*.html")).read_text()
    assert alert.id in report and "<svg" in report and "opened" in report
    m = re.search(r'<img src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', report)
    assert m is not None and base64.b64decode(m.group(1)) == snap.jpeg


def test_an_alert_without_a_camera_exports_tracks_and_report_and_names_are_sanitised(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    tricky = dataclasses.replace(make_alert(), id="../../x/..\\evil")
    with Store(db) as store:
        store.upgrade()
        store.write(lifecycle(tricky), [])
    out = tmp_path / "a" / "out"
    code, text = export("--alert", tricky.id, "--out", str(out), "--db", db)
    assert code == 0, text
    assert "no clip" in text and "not raised from a recorded camera" in text
    files = sorted(p.name for p in out.iterdir())
    assert files == ["alert-x_._evil.geojson", "alert-x_._evil.html", "alert-x_._evil.kml"]
    # Nothing was written anywhere but --out.
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()
                  and p.parent != out) == ["rw.db"]
    assert len(files) == 3 and "no clip" in (out / files[1]).read_text()


@pytest.mark.parametrize(("args", "says"), [
    (["--alert", "nope"], "no alert with id 'nope'"),
    (["--alert", "../../etc/passwd"], "no alert with id"),
    (["--alert", ""], "no alert with id"),
    (["--alert", "x", "--before", "-1"], "--before"),
])
def test_bad_input_is_refused(tmp_path: Path, args: list[str], says: str) -> None:
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    with Store(db) as store:
        store.upgrade()
    code, text = export(*args, "--out", str(tmp_path / "out"), "--db", db)
    assert code == 2 and says in text, text
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    alert = make_alert()
    with Store(db) as store:
        store.upgrade()
        store.write(lifecycle(alert), [])
    target = tmp_path / "taken"
    target.write_text("keep me")
    code, text = export("--alert", alert.id, "--out", str(target), "--db", db)
    assert code == 2 and "is a file" in text
    assert target.read_text() == "keep me"
