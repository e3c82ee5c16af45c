"""The replay API over a recorded synthetic run: frames, boxes and positions that agree in time; bad windows refused.

Choosing a patrol and the map as it was (sorties, cameras, corridors in force, footprints, areas) over data
stored through the store API, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box, shape

from routewatch.config.recording import RecordingConfig
from routewatch.config.web import WebConfig
from routewatch.geo.footprint import Footprint
from routewatch.model import (
    Alert,
    AlertChange,
    Box,
    Change,
    Corridor,
    CorridorKind,
    EventKind,
    Observation,
    Role,
    Severity,
    alert_id,
)
from routewatch.recording.boxlog import as_stored, pack_boxes
from routewatch.recording.frameindex import pack_times
from routewatch.recording.read import frames_between
from routewatch.store import RecordedSegment, Store
from routewatch.store.users import create_user
from routewatch.web import create_app
from routewatch.web.routes import replay as replay_api
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
            create_user(s.users, role, PASSWORD, role, at=datetime.now().astimezone())
        yield s


@pytest.fixture
def client(store: Store, run: RecordedRun) -> Iterator[TestClient]:
    with TestClient(create_app(store, recording=RecordingConfig(dir=run.root))) as c:
        r = c.post("/api/login", json={"username": "commander", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield c


def q(t: datetime) -> str:
    return t.isoformat().replace("+", "%2B")


def test_the_frame_at_an_alert_is_the_recorded_one(client: TestClient, store: Store, run: RecordedRun) -> None:
    (alert,) = store.alerts.find()
    r = client.get(f"/api/replay/frame?camera=gate&t={q(alert.opened_at)}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    shown = datetime.fromisoformat(r.headers["X-Frame-Time"])
    assert timedelta(0) <= alert.opened_at - shown < timedelta(seconds=PERIOD_S)
    image = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    (seg,) = [s for s in store.recordings.segments("gate") if s.start <= shown <= s.end]
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
    (alert,) = store.alerts.find()
    since, until = alert.opened_at - timedelta(seconds=3), alert.opened_at + timedelta(seconds=3)
    r = client.get(f"/api/replay/boxes?camera=gate&from={q(since)}&to={q(until)}")
    assert r.status_code == 200, r.text
    frames = r.json()["frames"]
    assert not r.json()["truncated"] and r.json()["next"] is None
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


def parts(client: TestClient, since: datetime, until: datetime, extra: str = "") -> list[dict[str, Any]]:
    """Every /boxes answer for the window, asking on from each one's `next` (as the page does)."""
    out: list[dict[str, Any]] = []
    at = q(since)
    while len(out) < 500:
        got = ok(client, f"/api/replay/boxes?camera=gate&from={at}&to={q(until)}{extra}")
        out.append(got)
        if not got["truncated"]:
            return out
        at = q(datetime.fromisoformat(got["next"]))
    raise AssertionError("the parts never ended")


# /boxes answers over the whole recorded run of n frames, in a window ending 1 s after its last frame or at it:
# (MAX_BOX_FRAMES, None: as it is; limit; the window ends at the last frame; the sizes of the parts).
BOX_PARTS: list[tuple[int | None, str, bool, Callable[[int], list[int]]]] = [
    (None, "", False, lambda n: [n]),  # under the cap: all in one answer
    (None, "&limit={n}", False, lambda n: [n]),
    (None, "&limit={n-1}", False, lambda n: [n - 1, 1]),
    # ... but frames left at the window's very end come along (asking from its end would be an empty window).
    (None, "&limit={n-1}", True, lambda n: [n]),
    (None, "&limit=50", True, lambda n: [50, 50, n - 100]),
    (None, "&limit=1", False, lambda n: [1] * n),
    (40, "", False, lambda n: [40, 40, 40, n - 120]),  # the server's cap
    (40, "&limit=30", False, lambda n: [30, 30, 30, 30, n - 120]),
    (40, "&limit=100", False, lambda n: [40, 40, 40, n - 120]),  # a larger limit does not lift the cap
]


def test_boxes_come_in_parts_that_join_up(client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    segs = store.recordings.segments("gate")
    since, last = segs[0].start, segs[-1].end  # the whole recorded run, over several segments
    recorded = frames_between(store, "gate", since, last)
    n = len(recorded)
    assert len(segs) > 1 and n in (125, 126) and recorded[-1].time == last
    for cap, limit, at_end, sizes in BOX_PARTS:
        if cap is not None:
            monkeypatch.setattr(replay_api, "MAX_BOX_FRAMES", cap)
        until = last if at_end else last + SEC
        got = parts(client, since, until, limit.replace("{n}", str(n)).replace("{n-1}", str(n - 1)))
        assert [len(g["frames"]) for g in got] == sizes(n), (cap, limit)
        # Joined, they are every recorded frame, none twice; each `next` is the first frame of the part after it.
        assert [f["time"] for g in got for f in g["frames"]] == [f.time.isoformat() for f in recorded]
        assert all(g["truncated"] == (g["next"] is not None) for g in got)
        assert [g["next"] for g in got[:-1]] == [g["frames"][0]["time"] for g in got[1:]]


MS = timedelta(milliseconds=1)
# One fast camera's frames (ms after T): three segments, three frames at one instant (1100), a gap after 1700.
FAST = ([*range(0, 1000, 100)], [1000, 1100, 1100, 1100, *range(1200, 1800, 100)], [*range(5000, 6000, 100)])


@pytest.mark.parametrize(("cap", "since", "until", "sizes", "skipped"), [
    (100, 0, 6000, [30], 0),
    (10, 0, 6000, [10, 10, 10], 0),
    (4, 950, 1450, [4, 3], 0),
    # The cap would split the frames at 1100: that part ends before them, the next one holds them all.
    (3, 950, 1450, [1, 3, 3], 0),
    # More frames at 1100 than a part holds: the rest of that instant is skipped, so asking on moves on.
    (2, 950, 1450, [1, 2, 2, 1], 1),
    (5, 2000, 4000, [0], 0),  # nothing recorded then
    (5, 4000, 5350, [4], 0),  # from before a segment to within it
    (1, 5900, 5901, [1], 0),
    # Frames left at the window's end come in the last answer, though past the cap: it may not be asked on from.
    (3, 1050, 1200, [4], 0),
    (1, 1150, 1300, [2], 0),
    (2, 1050, 1200, [2, 1], 1),
])
def test_frame_parts_split_at_instants(db_url: str, cap: int, since: int, until: int, sizes: list[int],
                                       skipped: int) -> None:
    with Store(db_url) as s:
        s.upgrade(postgis=False)
        for i, ms in enumerate(FAST):
            times = [T + x * MS for x in ms]
            boxes = [(Box(10, 10, 50, 90, track=str(k)),) for k in range(len(ms))]
            s.recordings.put_segment(RecordedSegment("fast", f"fast/{i}.mkv", times[0], times[-1], len(times), 1000,
                                                    "copy", 1920, 1080, times[-1], pack_times(times),
                                                    pack_boxes(boxes)))
        everything = frames_between(s, "fast", T + since * MS, T + until * MS)
        got, at = [], T + since * MS
        for _ in range(10):
            part, after = replay_api.frames_part(s, "fast", at, T + until * MS, cap)
            got.append(part)
            if after is None:
                break
            assert part and after > part[-1].time
            at = after
    assert [len(p) for p in got] == sizes
    joined = [(f.path, f.index) for p in got for f in p]
    assert len(set(joined)) == len(joined) == len(everything) - skipped
    assert set(joined) <= {(f.path, f.index) for f in everything}
    assert [f.time for p in got for f in p] == sorted(f.time for p in got for f in p)


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/api/replay/boxes?camera=gate&from=2026-05-01T03:00:10Z&to=2026-05-01T03:00:00Z", 422, "reversed"),
    ("/api/replay/boxes?camera=gate&from=2026-05-01T03:00:00Z&to=2026-05-01T03:00:00Z", 422, "empty"),
    ("/api/replay/boxes?camera=gate&from=2026-05-01T00:00:00Z&to=2026-05-01T07:00:00Z", 422, "longer than 6 h"),
    ("/api/replay/boxes?camera=gate&from=2026-05-01T03:00:00&to=2026-05-01T03:00:10Z", 422, "time zone"),
    ("/api/replay/boxes?camera=nope&from=2026-05-01T03:00:00Z&to=2026-05-01T03:00:10Z", 404, "nope"),
    ("/api/replay/boxes?camera=gate&from=noon&to=2026-05-01T03:00:10Z", 422, "from"),
    ("/api/replay/boxes?camera=gate&from=2026-05-01T03:00:00Z&to=2026-05-01T03:00:10Z&limit=0", 422, "limit"),
    ("/api/replay/boxes?camera=gate&from=2026-05-01T03:00:00Z&to=2026-05-01T03:00:10Z&limit=20001", 422, "limit"),
    ("/api/replay/boxes?camera=gate&from=2026-05-01T03:00:00Z&to=2026-05-01T03:00:10Z&limit=all", 422, "limit"),
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


# ---- choosing a patrol, and the map as it was: sorties, cameras, corridors in force, footprints, areas ----

T = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
SEC = timedelta(seconds=1)
GATE_VIEW = box(5.0028, 51.9998, 5.0032, 52.0002)  # the fixed camera's view: drone 1 passes it at T+28..32 s
C1_V1, C1_V2, C2 = box(5.0, 52.0, 5.01, 52.01), box(5.0, 52.0, 5.02, 52.02), box(6.0, 52.0, 6.01, 52.01)
SAVES = (T - 3600 * SEC, T + 30 * SEC, T + 90 * SEC)  # c1 v1 and c2; c1 v2; c1 deleted


def at_s(s: float) -> str:
    return q(T + s * SEC)


def drone_fix(subject: str, s: float, lat: float) -> Observation:
    return Observation(subject, T + s * SEC, 5.0 + s * 1e-4, lat, alt_m=100.0, subject_class="drone",
                       role=Role.PATROL, source="demo")


def segment(camera: str, start: float, end: float) -> RecordedSegment:
    return RecordedSegment(camera, f"{camera}/{start:.0f}.mkv", T + start * SEC, T + end * SEC, int(end - start) * 5,
                           1000, "mp4v", 320, 180, T + end * SEC)


@pytest.fixture
def patrol_store(db_url: str) -> Iterator[Store]:
    """Two drones' sorties (drone 1: 0-60 s and 300-330 s along lat 52.0; drone 2: 10-40 s along lat 52.1), a
    walker under the gate camera, each drone camera's footprints following its drone, two recorded cameras, and
    corridor c1 saved, changed and deleted (see SAVES), all through the store API."""
    with Store(db_url) as s:
        s.upgrade(postgis=False)
        create_user(s.users, "commander", PASSWORD, "commander", at=T)
        one = [drone_fix("demo/1", x, 52.0) for x in [*range(61), *range(300, 331)]]
        two = [drone_fix("demo/2", x, 52.1) for x in range(10, 41)]
        walker = [Observation("gate/7", T + x * SEC, 5.003, 52.0005, subject_class="person") for x in range(61)]
        s.batches.write([], [*one, *two, *walker])
        s.coverage.put_footprints([Footprint("gate", T - 100 * SEC, T + 3600 * SEC, GATE_VIEW, "fixed")]
                         + [Footprint(cam, T + x * SEC, T + (x + 5) * SEC,
                                      box(5.0 + x * 1e-4, lat - 0.001, 5.002 + x * 1e-4, lat + 0.001), "drone")
                            for cam, lat, xs in (("dcam1", 52.0, range(0, 60, 5)), ("dcam2", 52.1, range(10, 40, 5)))
                            for x in xs])
        for seg in (segment("dcam1", 0, 30), segment("dcam1", 30, 60), segment("gate", -100, 400)):
            s.recordings.put_segment(seg)
        s.corridors.save([Corridor("c1", C1_V1, name="first"), Corridor("c2", C2, kind=CorridorKind.EXCLUSION)],
                         author="p", comment="v1", at=SAVES[0])
        s.corridors.save([Corridor("c1", C1_V2, name="wider"), Corridor("c2", C2, kind=CorridorKind.EXCLUSION)],
                         author="p", comment="v2", at=SAVES[1])
        s.corridors.save([Corridor("c2", C2, kind=CorridorKind.EXCLUSION)], author="p", comment="gone", at=SAVES[2])
        yield s


@pytest.fixture
def patrol_client(patrol_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(patrol_store, WebConfig())) as c:
        r = c.post("/api/login", json={"username": "commander", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield c


def ok(client: TestClient, path: str) -> Any:
    r = client.get(path)
    assert r.status_code == 200, r.text
    return r.json()


def test_sorties_are_cut_from_the_drone_fixes_with_their_cameras(patrol_client: TestClient) -> None:
    got = ok(patrol_client, f"/api/replay/sorties?from={at_s(-60)}&to={at_s(3600)}")
    assert not got["truncated"] and not got["footprints_truncated"] and got["gap_s"] == 120
    assert all(s["cameras_checked"] for s in got["sorties"])
    summary = [(s["drone"], s["start"], s["end"], s["fixes"], s["following"], s["seen_by"], s["recorded"],
                s["camera"]) for s in got["sorties"]]
    iso = lambda x: (T + x * SEC).isoformat()  # noqa: E731
    assert summary == [
        ("demo/1", iso(0), iso(60), 61, ["dcam1"], ["gate"], ["dcam1", "gate"], "dcam1"),
        # dcam1 recorded then too, but it flew on drone 1: drone 2's own camera is chosen (though not recorded).
        ("demo/2", iso(10), iso(40), 31, ["dcam2"], [], ["dcam1", "gate"], "dcam2"),
        ("demo/1", iso(300), iso(330), 31, [], [], ["gate"], None),
    ]
    first = got["sorties"][0]
    assert first["class"] == "drone"
    assert first["bbox"] == pytest.approx([5.0, 52.0, 5.006, 52.0])
    # A longer gap joins drone 1's two runs; an area keeps the sorties with a fix inside it.
    joined = ok(patrol_client, f"/api/replay/sorties?from={at_s(-60)}&to={at_s(3600)}&gap_s=300")["sorties"]
    assert [(s["drone"], s["fixes"]) for s in joined] == [("demo/1", 92), ("demo/2", 31)]
    north = ok(patrol_client, f"/api/replay/sorties?from={at_s(-60)}&to={at_s(3600)}&bbox=4.9,52.05,5.1,52.15")
    assert [s["drone"] for s in north["sorties"]] == ["demo/2"]
    # Only drone 1's late run lies east of 5.03 (its fixes reach 5.033).
    east = ok(patrol_client, f"/api/replay/sorties?from={at_s(-60)}&to={at_s(3600)}&bbox=5.03,51.9,5.1,52.15")
    assert [(s["drone"], s["start"]) for s in east["sorties"]] == [("demo/1", iso(300))]
    # The window cuts sorties: what lies in [from, to).
    part = ok(patrol_client, f"/api/replay/sorties?from={at_s(20)}&to={at_s(35)}")["sorties"]
    assert [(s["drone"], s["start"], s["end"]) for s in part] == [("demo/1", iso(20), iso(34)),
                                                                  ("demo/2", iso(20), iso(34))]
    # Nothing flying: no sorties.
    assert ok(patrol_client, f"/api/replay/sorties?from={at_s(100)}&to={at_s(200)}")["sorties"] == []


def test_sorties_say_when_the_fixes_read_were_capped(patrol_client: TestClient,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_api, "MAX_SORTIE_FIXES", 50)
    got = ok(patrol_client, f"/api/replay/sorties?from={at_s(-60)}&to={at_s(3600)}")
    assert got["truncated"] and not got["footprints_truncated"]
    assert sum(s["fixes"] for s in got["sorties"]) == 50  # the oldest 50: drone 1 from 0 s, drone 2 from 10 s
    assert [(s["drone"], s["fixes"]) for s in got["sorties"]] == [("demo/1", 30), ("demo/2", 20)]


def test_many_sorties_are_capped(patrol_store: Store, patrol_client: TestClient) -> None:
    """A drone reporting every 2 s with gap_s=1: each fix is a sortie; only the earliest MAX_SORTIES are answered."""
    start = 1000
    fixes = [drone_fix("demo/3", start + 2 * i, 52.2) for i in range(replay_api.MAX_SORTIES + 100)]
    patrol_store.batches.write([], fixes)
    patrol_store.recordings.put_segment(segment("late", start, start + 500))
    window = f"from={at_s(start)}&to={at_s(start + 3600)}"
    got = ok(patrol_client, f"/api/replay/sorties?{window}&gap_s=1")
    assert got["truncated"] and len(got["sorties"]) == replay_api.MAX_SORTIES
    assert [s["start"] for s in got["sorties"]] == [(T + (start + 2 * i) * SEC).isoformat()
                                                   for i in range(replay_api.MAX_SORTIES)]
    assert all(s["fixes"] == 1 and s["drone"] == "demo/3" for s in got["sorties"])
    # "late" recorded from 1000 s to 1500 s: the sorties from then (251 of them, every 2 s) were recorded.
    assert [s["recorded"] for s in got["sorties"]] == [["late"]] * 251 + [[]] * (replay_api.MAX_SORTIES - 251)
    # A gap of 2 s joins them: one sortie, nothing cut off.
    joined = ok(patrol_client, f"/api/replay/sorties?{window}&gap_s=2")
    assert not joined["truncated"] and [s["fixes"] for s in joined["sorties"]] == [replay_api.MAX_SORTIES + 100]


@pytest.mark.parametrize(("cap", "query", "expected", "truncated"), [
    (2, "", [("demo/1", 0), ("demo/2", 10)], True),
    (3, "", [("demo/1", 0), ("demo/2", 10), ("demo/1", 300)], False),
    (1, "&gap_s=300", [("demo/1", 0)], True),
    (1, "&bbox=4.9,52.05,5.1,52.15", [("demo/2", 10)], False),  # the cap counts the sorties in the area
    (0, "&bbox=4.9,52.15,5.1,52.25", [], False),
])
def test_the_sortie_cap_keeps_the_earliest(patrol_client: TestClient, monkeypatch: pytest.MonkeyPatch, cap: int,
                                           query: str, expected: list[tuple[str, int]], truncated: bool) -> None:
    monkeypatch.setattr(replay_api, "MAX_SORTIES", cap)
    got = ok(patrol_client, f"/api/replay/sorties?from={at_s(-60)}&to={at_s(3600)}{query}")
    assert [(s["drone"], s["start"]) for s in got["sorties"]] == [(d, (T + x * SEC).isoformat()) for d, x in expected]
    assert got["truncated"] == truncated


def test_sortie_cameras_are_checked_for_the_first_sorties_from_their_first_footprints(
        patrol_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_api, "MATCHED_SORTIES", 2)
    monkeypatch.setattr(replay_api, "SORTIE_FOOTPRINTS", 4)
    got = ok(patrol_client, f"/api/replay/sorties?from={at_s(-60)}&to={at_s(3600)}")
    assert not got["truncated"] and got["footprints_truncated"]  # drone 1's first run spans gate's and 12 dcam1's
    assert [(s["drone"], s["cameras_checked"]) for s in got["sorties"]] == [
        ("demo/1", True), ("demo/2", True), ("demo/1", False)]
    # From the first 4 over drone 1's run (gate's and dcam1's from 0, 5 and 10 s): still its own camera.
    assert [(s["following"], s["seen_by"]) for s in got["sorties"][:2]] == [(["dcam1"], ["gate"]), (["dcam2"], [])]


@pytest.mark.parametrize(("t", "expected", "since", "until"), [
    (-7200, [], None, 0),  # before anything was saved
    (-3600, [("c1", 1, "first", C1_V1), ("c2", 1, "", C2)], 0, 1),  # saved at that very time: in force
    (0, [("c1", 1, "first", C1_V1), ("c2", 1, "", C2)], 0, 1),
    (30, [("c1", 2, "wider", C1_V2), ("c2", 1, "", C2)], 1, 2),
    (60, [("c1", 2, "wider", C1_V2), ("c2", 1, "", C2)], 1, 2),
    (90, [("c2", 1, "", C2)], 2, None),  # c1's tombstone: gone
    (86_400, [("c2", 1, "", C2)], 2, None),
])
def test_the_corridors_in_force_at_a_time(patrol_client: TestClient, t: float, expected: list[Any],
                                          since: int | None, until: int | None) -> None:
    got = ok(patrol_client, f"/api/replay/corridors?t={at_s(t)}")
    assert got["type"] == "FeatureCollection" and got["t"] == (T + t * SEC).isoformat()
    assert [(f["properties"]["id"], f["properties"]["version"], f["properties"]["name"], shape(f["geometry"]))
            for f in got["features"]] == expected
    kinds = {"c1": "corridor", "c2": "exclusion"}
    assert all(f["id"] == f["properties"]["id"] and f["properties"]["kind"] == kinds[f["id"]] for f in got["features"])
    assert got["since"] == (SAVES[since].isoformat() if since is not None else None)
    assert got["until"] == (SAVES[until].isoformat() if until is not None else None)


def raised_alert(corridor: str, version: int, s: float) -> AlertChange:
    opened = T + s * SEC
    return AlertChange(Change.OPENED, Alert(
        id=alert_id("gate/7", corridor, EventKind.ENTER.value, opened), kind=EventKind.ENTER, corridor_id=corridor,
        corridor_version=version, subject_id="gate/7", subject_class="person", opened_at=opened, last_seen=opened,
        lon=5.003, lat=52.0005, severity=Severity.MEDIUM))


@pytest.mark.parametrize(("t", "window", "raised"), [
    (0, (0, 60), [("c1", 2)]),  # c1 v1 in force; the alert at 40 s was raised against v2
    (45, (0, 60), [("c1", 1)]),
    (-7200, (0, 60), [("c1", 1), ("c1", 2), ("c2", 1)]),  # nothing saved yet: every version the alerts used
    (100, (0, 60), [("c1", 1), ("c1", 2)]),  # c1 deleted by then
    (0, (0, 20), []),  # only the alert at 10 s, against the version in force
    (0, (61, 120), []),  # no alerts in the window
    (0, None, []),  # no window, no alerts looked at
])
def test_the_versions_a_windows_alerts_were_raised_against(patrol_store: Store, patrol_client: TestClient, t: float,
                                                            window: tuple[float, float] | None,
                                                            raised: list[tuple[str, int]]) -> None:
    # c9 was never saved: its alert's corridor cannot be drawn and is left out.
    patrol_store.batches.write([raised_alert("c1", 1, 10), raised_alert("c1", 2, 40), raised_alert("c2", 1, 50),
                        raised_alert("c9", 1, 55)], [])
    extra = f"&from={at_s(window[0])}&to={at_s(window[1])}" if window else ""
    got = ok(patrol_client, f"/api/replay/corridors?t={at_s(t)}{extra}")
    assert [(f["properties"]["id"], f["properties"]["version"]) for f in got["raised"]] == raised
    shapes = {("c1", 1): C1_V1, ("c1", 2): C1_V2, ("c2", 1): C2}
    assert all(shape(f["geometry"]).equals(shapes[(f["id"], f["properties"]["version"])]) for f in got["raised"])
    in_force = {(f["id"], f["properties"]["version"]) for f in got["features"]}
    assert not in_force & set(raised)


def test_footprints_in_a_window(patrol_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    every = ok(patrol_client, f"/api/replay/footprints?from={at_s(0)}&to={at_s(60)}")
    assert every["type"] == "FeatureCollection" and not every["truncated"]
    assert len(every["features"]) == 1 + 12 + 6  # gate; dcam1 every 5 s; dcam2 from 10 s to 35 s
    mine = ok(patrol_client, f"/api/replay/footprints?from={at_s(12)}&to={at_s(21)}&camera=dcam1")["features"]
    # [start, end) rows overlapping [12 s, 21 s): the samples from 10, 15 and 20 s, by start.
    assert [f["properties"]["start"] for f in mine] == [(T + x * SEC).isoformat() for x in (10, 15, 20)]
    assert mine[0]["properties"] == {"camera": "dcam1", "kind": "drone", "start": (T + 10 * SEC).isoformat(),
                                     "end": (T + 15 * SEC).isoformat()}
    assert shape(mine[0]["geometry"]).equals(box(5.001, 51.999, 5.003, 52.001))
    (gate,) = ok(patrol_client, f"/api/replay/footprints?from={at_s(0)}&to={at_s(60)}&camera=gate")["features"]
    assert gate["properties"]["kind"] == "fixed" and shape(gate["geometry"]).equals(GATE_VIEW)
    monkeypatch.setattr(replay_api, "MAX_FOOTPRINTS", 4)
    capped = ok(patrol_client, f"/api/replay/footprints?from={at_s(0)}&to={at_s(60)}&camera=dcam1")
    assert capped["truncated"] and len(capped["features"]) == 4


def test_recorded_cameras_and_their_extents(patrol_client: TestClient) -> None:
    every = ok(patrol_client, "/api/replay/cameras")["cameras"]
    assert every == [
        {"camera": "dcam1", "first": T.isoformat(), "last": (T + 60 * SEC).isoformat(), "segments": 2,
         "frames": 300},
        {"camera": "gate", "first": (T - 100 * SEC).isoformat(), "last": (T + 400 * SEC).isoformat(),
         "segments": 1, "frames": 2500},
    ]
    # In a window: the segments overlapping it.
    later = ok(patrol_client, f"/api/replay/cameras?from={at_s(45)}&to={at_s(200)}")["cameras"]
    assert [(c["camera"], c["first"], c["segments"]) for c in later] == [
        ("dcam1", (T + 30 * SEC).isoformat(), 1), ("gate", (T - 100 * SEC).isoformat(), 1)]
    assert ok(patrol_client, f"/api/replay/cameras?from={at_s(500)}&to={at_s(600)}")["cameras"] == []


def test_the_recorded_run_lists_its_camera(client: TestClient, store: Store) -> None:
    segs = store.recordings.segments("gate")
    (gate,) = ok(client, "/api/replay/cameras")["cameras"]
    assert gate == {"camera": "gate", "first": segs[0].start.isoformat(), "last": segs[-1].end.isoformat(),
                    "segments": len(segs), "frames": sum(s.frames for s in segs)}
    assert gate["frames"] in (125, 126)  # 25 s at 5 fps


@pytest.mark.parametrize(("bbox", "subject", "expected"), [
    (None, None, {"demo/1": 61, "demo/2": 31, "gate/7": 61}),
    ("5.0025,51.99,5.0035,52.01", None, {"demo/1": 11, "gate/7": 61}),  # drone 1 passes at 25..35 s
    ("4.9,52.05,5.1,52.15", None, {"demo/2": 31}),
    ("5.0025,51.99,5.0035,52.01", "demo/1", {"demo/1": 11}),
    ("5.0025,51.99,5.0035,52.01", "demo/2", {}),
    ("-180,-90,180,90", "gate/7", {"gate/7": 61}),
])
def test_positions_in_an_area(patrol_client: TestClient, bbox: str | None, subject: str | None,
                              expected: dict[str, int]) -> None:
    extra = (f"&bbox={bbox}" if bbox else "") + (f"&subject={subject}" if subject else "")
    got = ok(patrol_client, f"/api/replay/positions?from={at_s(0)}&to={at_s(61)}{extra}")
    counts: dict[str, int] = {}
    for f in got["positions"]:
        counts[f["subject_id"]] = counts.get(f["subject_id"], 0) + 1
    assert counts == expected and not got["truncated"]
    times = [f["time"] for f in got["positions"]]
    assert times == sorted(times)
    if bbox:
        area = [float(x) for x in bbox.split(",")]
        assert all(area[0] <= f["lon"] <= area[2] and area[1] <= f["lat"] <= area[3] for f in got["positions"])


def test_positions_in_an_area_are_capped_inside_it(patrol_store: Store) -> None:
    with TestClient(create_app(patrol_store, WebConfig(max_replay_positions=5))) as c:
        c.post("/api/login", json={"username": "commander", "password": PASSWORD})
        got = ok(c, f"/api/replay/positions?from={at_s(0)}&to={at_s(61)}&bbox=4.9,52.05,5.1,52.15")
    assert got["truncated"] and [f["subject_id"] for f in got["positions"]] == ["demo/2"] * 5


WINDOW = f"from={at_s(0)}&to={at_s(60)}"


@pytest.mark.parametrize(("path", "status", "says"), [
    (f"/api/replay/sorties?from={at_s(10)}&to={at_s(0)}", 422, "reversed"),
    (f"/api/replay/sorties?from={at_s(0)}&to={at_s(0)}", 422, "empty"),
    (f"/api/replay/sorties?from={at_s(0)}&to={at_s(7 * 3600)}", 422, "longer than 6 h"),
    ("/api/replay/sorties?from=2026-05-01T03:00:00&to=2026-05-01T03:01:00Z", 422, "time zone"),
    (f"/api/replay/sorties?{WINDOW}&gap_s=0", 422, "gap_s"),
    (f"/api/replay/sorties?{WINDOW}&gap_s=1e-9", 422, "greater than or equal to 1"),
    (f"/api/replay/sorties?{WINDOW}&gap_s=0.999", 422, "gap_s"),
    (f"/api/replay/sorties?{WINDOW}&gap_s=-5", 422, "gap_s"),
    (f"/api/replay/sorties?{WINDOW}&gap_s=3600.5", 422, "less than or equal to 3600"),
    (f"/api/replay/sorties?{WINDOW}&gap_s=1e300", 422, "gap_s"),
    (f"/api/replay/sorties?{WINDOW}&gap_s=inf", 422, "gap_s"),
    (f"/api/replay/sorties?{WINDOW}&gap_s=nan", 422, "gap_s"),
    (f"/api/replay/sorties?{WINDOW}&gap_s=", 422, "gap_s"),
    (f"/api/replay/sorties?{WINDOW}&bbox=5,52,6", 422, "4 numbers"),
    (f"/api/replay/sorties?{WINDOW}&bbox=6,52,5,53", 422, "minlon (6.0) must be less than maxlon"),
    (f"/api/replay/positions?{WINDOW}&bbox=a,b,c,d", 422, "not 4 comma-separated numbers"),
    (f"/api/replay/positions?{WINDOW}&bbox=nan,52,6,53", 422, "finite"),
    (f"/api/replay/positions?{WINDOW}&bbox=5,52,200,53", 422, "maxlon"),
    (f"/api/replay/positions?{WINDOW}&bbox=5,-95,6,53", 422, "minlat"),
    (f"/api/replay/positions?{WINDOW}&bbox=5,53,6,53", 422, "minlat (53.0) must be less than maxlat"),
    (f"/api/replay/positions?{WINDOW}&bbox=" + "1" * 201, 422, "bbox"),
    ("/api/replay/corridors?t=2026-05-01T03:00:00", 422, "time zone"),
    ("/api/replay/corridors?t=yesterday", 422, "t"),
    ("/api/replay/corridors", 422, "t"),
    (f"/api/replay/corridors?t={q(T)}&from={q(T)}", 422, "both 'from' and 'to'"),
    (f"/api/replay/corridors?t={q(T)}&from={q(T)}&to={q(T - SEC)}", 422, "reversed"),
    (f"/api/replay/footprints?from={at_s(10)}&to={at_s(0)}", 422, "reversed"),
    (f"/api/replay/footprints?from={at_s(0)}&to={at_s(7 * 3600)}", 422, "longer than 6 h"),
    (f"/api/replay/footprints?{WINDOW}&camera=nope", 404, "nope"),
    (f"/api/replay/footprints?{WINDOW}&camera=", 422, "camera"),
    (f"/api/replay/cameras?from={at_s(0)}", 422, "both"),
    (f"/api/replay/cameras?to={at_s(0)}", 422, "both"),
    (f"/api/replay/cameras?from={at_s(10)}&to={at_s(0)}", 422, "reversed"),
    (f"/api/replay/cameras?from={at_s(0)}&to={at_s(7 * 3600)}", 422, "longer than 6 h"),
])
def test_bad_patrol_requests_are_refused(patrol_client: TestClient, path: str, status: int, says: str) -> None:
    r = patrol_client.get(path)
    assert r.status_code == status, r.text
    assert says in str(r.json()["detail"])
