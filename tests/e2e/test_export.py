"""`routewatch export`: an alert's clip decodes with the recorded frames, boxes burned in or not, tracks, report;
a camera's time range likewise, with every track in it and a report of its alerts; bad input is refused.
The bounds too: an area's alerts and tracks are found before any cap, clips past their bounds, long names."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from routewatch.cli.main import main
from routewatch.geo.bbox import BBox
from routewatch.model import Observation
from routewatch.recording.read import frames_between
from routewatch.replay.export import ExportError, export_alert
from routewatch.replay.rangeexport import MAX_ALERTS, export_range, read_tracks
from routewatch.replay.report import MAX_NAME, range_name, safe_name
from routewatch.store import RecordedSegment, Store
from tests.web.conftest import T0, lifecycle, make_alert

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
        (alert,) = store.alerts.find()
        since = alert.opened_at - timedelta(seconds=BEFORE_S)
        until = (alert.closed_at or alert.last_seen) + timedelta(seconds=AFTER_S)
        frames = frames_between(store, "gate", since, until)
        fixes = store.positions.of_subject(alert.subject_id, since, until)
        snap = store.snapshots.get(alert.id)
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
        (alert,) = store.alerts.find()
        since, until = alert.opened_at - timedelta(seconds=4), alert.opened_at + timedelta(seconds=6)
        frames = frames_between(store, "gate", since, until)
        walker = store.positions.of_subject(alert.subject_id, since, until)
        everyone = [f for chunk in store.positions.stream(since, until) for f in chunk]
        events = store.alerts.events(alert.id)
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
        (alert,) = store.alerts.find()
        since, until = alert.opened_at - timedelta(seconds=4), alert.opened_at + timedelta(seconds=6)
        walker = store.positions.of_subject(alert.subject_id, since, until)
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
        store.recordings.put_segment(RecordedSegment(tricky, "seg/elsewhere.mkv", t, t, 1, 1, "mjpeg", 8, 8, t))
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
        store.batches.write(lifecycle(tricky), [])
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
        store.batches.write(lifecycle(alert), [])
    target = tmp_path / "taken"
    target.write_text("keep me")
    code, text = export("--alert", alert.id, "--out", str(target), "--db", db)
    assert code == 2 and "is a file" in text
    assert target.read_text() == "keep me"


AREA = BBox(5.1, 52.1, 5.2, 52.2)
INSIDE, OUTSIDE = (5.15, 52.15), (5.005, 52.005)


def window_store(db: str, tmp_path: Path) -> Store:
    """A migrated store with camera gate known to the recordings (recorded long before T0: no clip)."""
    store = Store(db)
    store.upgrade()
    t = T0 - timedelta(days=1)
    store.recordings.put_segment(RecordedSegment("gate", "gate/old.mkv", t, t, 1, 1, "mjpeg", 8, 8, t))
    return store


# (alerts opened outside the area first, then inside it; alerts the report lists; the "only the first" note?)
AREA_ALERTS = [
    pytest.param(0, 0, 0, False, id="none"),
    pytest.param(3, 0, 0, False, id="none-inside"),
    pytest.param(245, 5, 5, False, id="inside-after-the-first-201"),
    pytest.param(10, MAX_ALERTS + 1, MAX_ALERTS, True, id="more-inside-than-listed"),
]


@pytest.mark.parametrize(("outside", "inside", "listed", "note"), AREA_ALERTS)
def test_an_areas_alerts_are_found_past_the_windows_first_ones(tmp_path: Path, db_url: str, outside: int,
                                                               inside: int, listed: int, note: bool) -> None:
    where = [OUTSIDE] * outside + [INSIDE] * inside
    alerts = [make_alert(subject=f"s{k}", opened=float(k), lon=lon, lat=lat) for k, (lon, lat) in enumerate(where)]
    with window_store(db_url, tmp_path) as store:
        store.batches.write([c for a in alerts for c in lifecycle(a)], [])
        got = export_range(store, tmp_path / "rec", "gate", T0, T0 + timedelta(hours=1), tmp_path / "out", area=AREA)
    assert got.clip is None and got.alerts == listed
    report = got.report.read_text()
    shown = [a.id for a in alerts if f"<code>{a.id}</code>" in report]
    assert shown == [a.id for a in alerts[outside:outside + listed]]  # the first ones inside, in time order
    assert ("Only the first" in report) == note


def fixes(subject: str, start_s: int, n: int, where: tuple[float, float]) -> list[Observation]:
    return [Observation(subject, T0 + timedelta(seconds=start_s + k), where[0], where[1] + k * 1e-6,
                        subject_class="person") for k in range(n)]


# (fixes of subjects elsewhere first, then the near subject's (2 outside then inside), area?, limit) ->
# fixes kept per subject, cut?
TRACK_CAPS = [
    pytest.param(0, 0, AREA, 10, {}, False, id="nothing"),
    pytest.param(30, 0, AREA, 10, {}, False, id="nothing-inside"),
    # The traffic elsewhere comes first; it does not use up the cap (the whole near track, outside fixes too).
    pytest.param(30, 5, AREA, 10, {"near": 7}, False, id="elsewhere-first"),
    pytest.param(0, 12, AREA, 10, {"near": 10}, True, id="cut-at-the-cap"),
    pytest.param(30, 5, None, 10, {"far0": 10}, True, id="no-area-cut-in-time-order"),
    pytest.param(3, 2, None, 10, {"far0": 3, "near": 4}, False, id="no-area-all"),
]


@pytest.mark.parametrize(("far", "near", "area", "limit", "kept", "cut"), TRACK_CAPS)
def test_an_areas_tracks_are_found_before_the_cap(tmp_path: Path, db_url: str, far: int, near: int,
                                                  area: BBox | None, limit: int, kept: dict[str, int],
                                                  cut: bool) -> None:
    positions = fixes("far0", 0, far, OUTSIDE)
    if near:
        positions += fixes("near", far, 2, OUTSIDE) + fixes("near", far + 2, near, INSIDE)
    with window_store(db_url, tmp_path) as store:
        store.batches.write([], positions)
        tracks, truncated = read_tracks(store, T0, T0 + timedelta(hours=1), area, limit=limit)
    assert {s: len(f) for s, f in tracks.items()} == kept and truncated == cut
    for subject, got in tracks.items():
        assert [f.time for f in got] == sorted(f.time for f in got)  # each track in time order
        assert {f.subject_id for f in got} == {subject}


def test_a_clip_past_its_bounds_is_refused_or_left_out(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rw.db'}"
    run = record_gate_run(tmp_path, db)
    with Store(db) as store:
        (alert,) = store.alerts.find()
        since, until = alert.opened_at - timedelta(seconds=4), alert.opened_at + timedelta(seconds=6)
        n = len(frames_between(store, "gate", since, until))
        # Frames: one more than allowed is refused before any file is written; as many as allowed are written.
        for max_frames, out in ((n - 1, tmp_path / "over"), (n, tmp_path / "at"), (None, tmp_path / "free")):
            if max_frames is not None and max_frames < n:
                with pytest.raises(ExportError, match=f"the clip would have {n} frames, more than the {n - 1}"):
                    export_range(store, run.root, "gate", since, until, out, max_frames=max_frames)
                assert not out.exists() or list(out.iterdir()) == []
            else:
                assert export_range(store, run.root, "gate", since, until, out, max_frames=max_frames).frames == n
        with pytest.raises(ExportError, match="more than the 1 an export may hold"):
            export_alert(store, run.root, alert.id, tmp_path / "alert-frames", max_frames=1)
        # An alert longer than the clip's bound: tracks and report, no clip, and the note says why.
        short = export_alert(store, run.root, alert.id, tmp_path / "alert-span", before_s=1, after_s=1, max_clip_s=1)
        assert short.clip is None and short.note == "no clip: the alert with its margins spans more than 1 s"
        assert sorted(p.suffix for p in (tmp_path / "alert-span").iterdir()) == [".geojson", ".html", ".kml"]


STAMPS = "20260501T030000Z-20260501T040000Z"


def digest(camera: str) -> str:
    return hashlib.sha256(camera.encode("utf-8", "surrogatepass")).hexdigest()[:8]


@pytest.mark.parametrize(("camera", "expected"), [
    ("", f"range-unnamed-{STAMPS}"),
    ("gate", f"range-gate-{STAMPS}"),
    ("../gate cam", f"range-gate_cam-{STAMPS}"),
    ("c" * 40, f"range-{'c' * 40}-{STAMPS}"),  # just fits its room: whole, no hash
    ("c" * 41, f"range-{'c' * 31}_{digest('c' * 41)}-{STAMPS}"),
    ("c" * 200, f"range-{'c' * 31}_{digest('c' * 200)}-{STAMPS}"),
    ("a" * 30 + "." + "b" * 20, f"range-{'a' * 30}_{digest('a' * 30 + '.' + 'b' * 20)}-{STAMPS}"),  # no '._'
    ("\udcff" * 60, f"range-unnamed-{STAMPS}"),  # undecodable bytes from a command line: no part left
])
def test_range_names_keep_both_times_whole(camera: str, expected: str) -> None:
    name = range_name(camera, datetime(2026, 5, 1, 3, 0, tzinfo=UTC), datetime(2026, 5, 1, 4, 0, tzinfo=UTC))
    assert name == expected
    assert len(name) <= MAX_NAME and safe_name(name) == name


def test_long_camera_names_alike_at_the_start_give_distinct_names() -> None:
    t = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    cameras = ["north-perimeter-gate-camera-" + "x" * 60 + end for end in ("-east", "-west", "-west2")]
    names = [range_name(c, t, t + timedelta(hours=1)) for c in cameras]
    assert len(set(names)) == len(names)
    assert all(n.endswith("-20260501T030000Z-20260501T040000Z") and len(n) <= MAX_NAME for n in names)
