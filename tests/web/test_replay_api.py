"""The replay API over a recorded synthetic run: frames, boxes and positions that agree in time; bad windows refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from routewatch.recording.boxlog import as_stored
from routewatch.recording.read import frames_between
from routewatch.store import Store
from routewatch.store.users import create_user
from routewatch.web import WebSettings, create_app
from tests.e2e.recorded import RecordedRun, record_gate_run
from tests.e2e.test_recording import decode
from tests.web.conftest import PASSWORD

PERIOD_S = 0.2


@pytest.fixture
def run(tmp_path: Path) -> RecordedRun:
    return record_gate_run(tmp_path, f"sqlite:///{tmp_path / 'rw.db'}")


@pytest.fixture
def store(run: RecordedRun) -> Iterator[Store]:
    with Store(run.db_url) as s:
        for role in ("commander", "field"):
            create_user(s, role, PASSWORD, role, at=datetime.now().astimezone())
        yield s


@pytest.fixture
def client(store: Store, run: RecordedRun) -> Iterator[TestClient]:
    settings = WebSettings(secret_key=b"k" * 32, recordings_dir=run.root)
    with TestClient(create_app(store, settings)) as c:
        r = c.post("/api/login", json={"username": "commander", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield c


def q(t: datetime) -> str:
    return t.isoformat().replace("+", "%2B")


def test_the_frame_at_an_alert_is_the_recorded_one(client: TestClient, store: Store, run: RecordedRun) -> None:
    (alert,) = store.list_alerts()
    r = client.get(f"/api/replay/frame?camera=gate&t={q(alert.opened_at)}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    shown = datetime.fromisoformat(r.headers["X-Frame-Time"])
    assert timedelta(0) <= alert.opened_at - shown < timedelta(seconds=PERIOD_S)
    image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    (seg,) = [s for s in store.recording_segments("gate") if s.start <= shown <= s.end]
    assert image.shape == (seg.height, seg.width, 3)
    # The very frame: it matches the segment decoded in order at the index of that time (JPEG noise only).
    (rec,) = frames_between(store, "gate", shown, shown)
    expected = decode(run.root / rec.path)[rec.index]
    assert float(np.abs(image.astype(float) - expected.astype(float)).mean()) < 3.0
    neighbour = decode(run.root / rec.path)[rec.index - 1 if rec.index else rec.index + 1]
    assert np.abs(image.astype(float) - neighbour.astype(float)).max() > 60  # a frame apart, the walker moved
    # With boxes: the stored boxes are drawn (magenta) on that frame.
    boxed = client.get(f"/api/replay/frame?camera=gate&t={q(alert.opened_at)}&boxes=true")
    assert boxed.headers["X-Frame-Time"] == r.headers["X-Frame-Time"]
    drawn = cv2.imdecode(np.frombuffer(boxed.content, np.uint8), cv2.IMREAD_COLOR)
    b, g, red = (drawn[..., i].astype(int) for i in range(3))
    assert rec.boxes and int(np.count_nonzero((b > 180) & (red > 180) & (g < 90))) > 50


def test_boxes_and_positions_agree_in_time(client: TestClient, store: Store) -> None:
    (alert,) = store.list_alerts()
    since, until = alert.opened_at - timedelta(seconds=3), alert.opened_at + timedelta(seconds=3)
    r = client.get(f"/api/replay/boxes?camera=gate&from={q(since)}&to={q(until)}")
    assert r.status_code == 200, r.text
    frames = r.json()["frames"]
    recorded = frames_between(store, "gate", since, until)
    assert [f["time"] for f in frames] == [f.time.isoformat() for f in recorded]
    assert len(frames) in (30, 31)  # 6 s at 5 fps
    track = alert.subject_id.split("/", 1)[1]
    for got, rec in zip(frames, recorded, strict=True):
        assert [(b["track"], b["x1"], b["y1"], b["x2"], b["y2"]) for b in got["boxes"]] == [
            (b.track, b.x1, b.y1, b.x2, b.y2) for b in map(as_stored, rec.boxes)]
    p = client.get(f"/api/replay/positions?from={q(since)}&to={q(until)}&subject={alert.subject_id}")
    assert p.status_code == 200, p.text
    fixes = p.json()["positions"]
    assert fixes and all(since <= datetime.fromisoformat(f["time"]) < until for f in fixes)
    # Each fix of the tracked walker has a recorded frame at that time carrying its box.
    by_time = {f["time"]: {b["track"] for b in f["boxes"]} for f in frames}
    assert all(track in by_time[f["time"]] for f in fixes)
    everyone = client.get(f"/api/replay/positions?from={q(since)}&to={q(until)}").json()
    assert {f["subject_id"] for f in everyone["positions"]} >= {alert.subject_id} and not everyone["truncated"]


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/api/replay/boxes?camera=gate&from=2026-05-01T03:00:10Z&to=2026-05-01T03:00:00Z", 422, "reversed"),
    ("/api/replay/boxes?camera=gate&from=2026-05-01T03:00:00Z&to=2026-05-01T03:00:00Z", 422, "empty"),
    ("/api/replay/boxes?camera=gate&from=2026-05-01T00:00:00Z&to=2026-05-01T07:00:00Z", 422, "longer than 6 h"),
    ("/api/replay/boxes?camera=gate&from=2026-05-01T03:00:00&to=2026-05-01T03:00:10Z", 422, "time zone"),
    ("/api/replay/boxes?camera=nope&from=2026-05-01T03:00:00Z&to=2026-05-01T03:00:10Z", 404, "nope"),
    ("/api/replay/boxes?camera=gate&from=noon&to=2026-05-01T03:00:10Z", 422, "from"),
    ("/api/replay/positions?from=2026-05-01T03:00:10Z&to=2026-05-01T03:00:00Z", 422, "reversed"),
    ("/api/replay/positions?from=2026-05-01T00:00:00Z&to=2026-05-02T00:00:00Z", 422, "longer than 6 h"),
    ("/api/replay/frame?camera=nope&t=2026-05-01T03:00:05Z", 404, "nope"),
    ("/api/replay/frame?camera=gate&t=2026-05-01T02:00:00Z", 404, "nothing of camera"),  # before the run
    ("/api/replay/frame?camera=gate&t=2026-05-01T04:00:00Z", 404, "nothing of camera"),  # long after it
    ("/api/replay/frame?camera=gate&t=2026-05-01T03:00:05", 422, "time zone"),
    ("/api/replay/frame?camera=gate", 422, "t"),
])
def test_bad_requests_are_refused(client: TestClient, path: str, status: int, says: str) -> None:
    r = client.get(path)
    assert r.status_code == status, r.text
    assert says in r.json()["detail"]


def test_a_field_user_may_not_replay(client: TestClient, store: Store) -> None:
    client.cookies.clear()
    client.post("/api/login", json={"username": "field", "password": PASSWORD})
    assert client.get("/api/replay/frame?camera=gate&t=2026-05-01T03:00:05Z").status_code == 403
