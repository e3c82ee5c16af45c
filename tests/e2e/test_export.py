"""`routewatch export`: an alert's clip decodes with the recorded frames, boxes burned in or not, tracks, report;
a camera's time range likewise, with every track in it and a report of its alerts; bad input is refused."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from routewatch.cli import main
from routewatch.recording.read import frames_between
from routewatch.store import RecordedSegment, Store
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


def clip_facts(clip: Path) -> tuple[float, int, list[np.ndarray]]:
    """A clip's frame rate, its frame count as the container says, and its frames decoded."""
    cap = cv2.VideoCapture(str(clip))
    fps, count = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return fps, count, decode(clip)


def test_a_range_exports_the_clip_every_track_and_a_report_of_its_alerts(tmp_path: Path, db_url: str) -> None:
    run = record_gate_run(tmp_path, db_url)
    with Store(db_url) as store:
        (alert,) = store.list_alerts()
        since, until = alert.opened_at - timedelta(seconds=4), alert.opened_at + timedelta(seconds=6)
        frames = frames_between(store, "gate", since, until)
        walker = store.positions(alert.subject_id, since, until)
        everyone = [f for chunk in store.iter_positions(since, until) for f in chunk]
        events = store.alert_events(alert.id)
    assert frames and walker and events
    out = tmp_path / "range"
    code, text = export("--camera", "gate", "--from", since.isoformat(), "--to", until.isoformat(), "--out", str(out),
                        "--db", db_url, "-c", str(run.config))
    assert code == 0, text
    assert f"{len(frames)} frames of camera gate with boxes" in text and "1 alert(s)" in text
    base = "range-gate-" + since.strftime("%Y%m%dT%H%M%SZ") + "-" + until.strftime("%Y%m%dT%H%M%SZ")
    assert sorted(p.name for p in out.iterdir()) == sorted(base + ext for ext in (".geojson", ".html", ".kml", ".mp4"))
    # The clip: every recorded frame of the range, at the recording's rate, boxes burned into the tracked ones.
    fps, count, images = clip_facts(out / f"{base}.mp4")
    assert len(images) == count == len(frames) == 50  # 10 s at 5 fps
    span = (frames[-1].time - frames[0].time).total_seconds() + 0.2
    assert fps == pytest.approx(5.0) and count / fps == pytest.approx(span, abs=1e-6)
    boxed = [magenta(img) for img, f in zip(images, frames, strict=True) if f.boxes]
    assert boxed and min(boxed) > 100
    # Every track with positions in the window, the walker's among them, fix for fix.
    geo = json.loads((out / f"{base}.geojson").read_text())
    points = [f for f in geo["features"] if f["geometry"]["type"] == "Point"]
    assert len(points) == len(everyone)
    mine = [f["geometry"]["coordinates"] for f in points if f["properties"]["subject_id"] == alert.subject_id]
    assert mine == [[f.lon, f.lat] for f in walker]
    lines = {f["properties"]["subject_id"] for f in geo["features"] if f["geometry"]["type"] == "LineString"}
    assert alert.subject_id in lines
    kml = (out / f"{base}.kml").read_text()
    assert kml.count("<Point>") == len(everyone) and f"<Folder><name>{alert.subject_id}</name>" in kml
    # The report: the alert with a thumbnail of its snapshot, the corridor it was raised against, its events.
    report = (out / f"{base}.html").read_text()
    assert f"<code>{alert.id}</code>" in report and "gate-line v1" in report and "<svg" in report
    m = re.search(r'<img src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)" alt="snapshot of ' + alert.id, report)
    assert m is not None
    thumb = cv2.imdecode(np.frombuffer(base64.b64decode(m.group(1)), np.uint8), cv2.IMREAD_COLOR)
    assert thumb is not None and thumb.shape[1] == 240
    timeline = report.split("<h2>Timeline</h2>")[1]
    assert timeline.count("<li>") == len(events) and f"opened cross gate-line {alert.subject_id}" in timeline
    # Without boxes: the same frames, nothing burned in.
    plain = tmp_path / "plain"
    code, text = export("--camera", "gate", "--from", since.isoformat(), "--to", until.isoformat(), "--out",
                        str(plain), "--db", db_url, "-c", str(run.config), "--no-boxes")
    assert code == 0, text
    _, count, images = clip_facts(plain / f"{base}.mp4")
    assert count == len(frames) and max(magenta(img) for img in images) < 20


@pytest.mark.parametrize(("area", "tracks", "alerts"), [
    ("walker", 1, 1),
    ("elsewhere", 0, 0),
])
def test_an_area_keeps_the_tracks_and_alerts_inside_it(tmp_path: Path, area: str, tracks: int, alerts: int) -> None:
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    run = record_gate_run(tmp_path, db)
    with Store(db) as store:
        (alert,) = store.list_alerts()
        since, until = alert.opened_at - timedelta(seconds=4), alert.opened_at + timedelta(seconds=6)
        walker = store.positions(alert.subject_id, since, until)
    # Around the alert's position (on the walker's track): a box of a few metres, or one far off.
    lon, lat = alert.lon, alert.lat
    box = (f"{lon - 5e-5},{lat - 5e-5},{lon + 5e-5},{lat + 5e-5}" if area == "walker"
           else f"{lon + 0.1},{lat + 0.1},{lon + 0.2},{lat + 0.2}")
    out = tmp_path / "out"
    code, text = export("--camera", "gate", "--from", since.isoformat(), "--to", until.isoformat(), "--area", box,
                        "--out", str(out), "--db", db, "-c", str(run.config))
    assert code == 0, text
    assert f"of {tracks} track(s), {alerts} alert(s)" in text
    geo = json.loads(next(out.glob("*.geojson")).read_text())
    subjects = {f["properties"]["subject_id"] for f in geo["features"]}
    assert subjects == ({alert.subject_id} if tracks else set())
    # The whole track in the window is kept, not only its fixes inside the box.
    points = [f for f in geo["features"] if f["geometry"]["type"] == "Point"]
    assert len(points) == (len(walker) if tracks else 0)
    if tracks:  # ... though some of its fixes lie outside the box
        assert any(abs(f.lat - lat) > 5e-5 for f in walker)
    report = next(out.glob("*.html")).read_text()
    assert (alert.id in report) == bool(alerts)
    assert ("No stored positions in this window." in report) == (not tracks)
    assert len(next(out.glob("*.mp4")).read_bytes()) > 0  # the clip is the camera's, whatever the area


def test_a_range_of_a_tricky_camera_name_writes_only_sanitised_names_into_out(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    tricky = "../../x/..\\evil"
    t = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    with Store(db) as store:
        store.upgrade()
        store.put_recording_segment(RecordedSegment(tricky, "seg/elsewhere.mkv", t, t, 1, 1, "mjpeg", 8, 8, t))
    out = tmp_path / "a" / "out"
    code, text = export("--camera", tricky, "--from", "2026-05-01T04:00:00Z", "--to", "2026-05-01T04:00:30Z",
                        "--out", str(out), "--db", db)
    assert code == 0, text
    assert "no clip: nothing of camera" in text
    base = "range-x_._evil-20260501T040000Z-20260501T040030Z"
    assert sorted(p.name for p in out.iterdir()) == [f"{base}.geojson", f"{base}.html", f"{base}.kml"]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()
                  and p.parent != out) == ["rw.db"]
    assert "../../x/..\\evil" in (out / f"{base}.html").read_text()  # shown (escaped), never a path


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


T1, T2 = "2026-05-01T03:00:00Z", "2026-05-01T03:00:10Z"


@pytest.mark.parametrize(("args", "says"), [
    (["--alert", "nope"], "no alert with id 'nope'"),
    (["--alert", "../../etc/passwd"], "no alert with id"),
    (["--alert", ""], "no alert with id"),
    (["--alert", "x", "--before", "-1"], "--before"),
    # A range: empty, reversed, zone-less, not a time, too long, unknown camera (tricks and all).
    (["--camera", "gate", "--from", T1, "--to", T1], "time range is empty"),
    (["--camera", "gate", "--from", T2, "--to", T1], "time range is reversed"),
    (["--camera", "gate", "--from", "2026-05-01T03:00:00", "--to", T2], "has no time zone"),
    (["--camera", "gate", "--from", T1, "--to", "noon"], "is not an ISO 8601 time"),
    (["--camera", "gate", "--from", T1, "--to", "2026-05-01T04:00:01Z"], "longer than 1 h"),
    (["--camera", "gate", "--from", "2026-05-01T03:00:00+02:00", "--to", T2], "longer than 1 h"),  # 2 h 10 s
    (["--camera", "nope", "--from", T1, "--to", T2], "nothing recorded for camera 'nope'"),
    (["--camera", "../../etc", "--from", T1, "--to", T2], "nothing recorded for camera '../../etc'"),
    (["--camera", "", "--from", T1, "--to", T2], "nothing recorded for camera ''"),
    # Both or neither of --alert and --camera; options of the other kind.
    (["--alert", "x", "--camera", "gate", "--from", T1, "--to", T2], "either --alert"),
    ([], "either --alert"),
    (["--from", T1, "--to", T2], "either --alert"),
    (["--camera", "gate", "--from", T1], "--camera needs --from and --to"),
    (["--alert", "x", "--from", T1], "go with --camera"),
    (["--alert", "x", "--area", "5,52,6,53"], "go with --camera"),
    (["--camera", "gate", "--from", T1, "--to", T2, "--before", "5"], "--before and --after go with --alert"),
    # Bad boxes.
    (["--camera", "gate", "--from", T1, "--to", T2, "--area", "5,52,6"], "4 numbers"),
    (["--camera", "gate", "--from", T1, "--to", T2, "--area", "a,b,c,d"], "is not 4 comma-separated numbers"),
    (["--camera", "gate", "--from", T1, "--to", T2, "--area", "6,52,5,53"], "minlon (6.0) must be less than maxlon"),
    (["--camera", "gate", "--from", T1, "--to", T2, "--area", "5,52,6,52"], "minlat (52.0) must be less than maxlat"),
    (["--camera", "gate", "--from", T1, "--to", T2, "--area", "5,-91,6,52"], "minlat (-91.0) must be within -90..90"),
    (["--camera", "gate", "--from", T1, "--to", T2, "--area", "nan,52,6,53"], "finite"),
    (["--camera", "gate", "--from", T1, "--to", T2, "--area", ""], "4 numbers"),
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
