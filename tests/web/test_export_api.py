"""Export jobs over a recorded synthetic run: a job to a zip whose members decode, bad bodies, roles, owners, limits,
and where their files lie: on the recordings' disk, out of the recordings' sweep, within a byte budget and a free-space
floor."""

from __future__ import annotations

import fcntl
import io
import json
import os
import threading
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from routewatch.config.recording import RecordingConfig
from routewatch.config.web import WebConfig
from routewatch.recording.read import frames_between
from routewatch.recording.retention import sweep
from routewatch.store import Store
from routewatch.store.users import create_user
from routewatch.web import create_app
from routewatch.web.routes.export import (
    EXPORTS_DIR,
    MAX_ACTIVE,
    MAX_KEPT,
    STALE_S,
    TTL,
    ExportJobs,
    Storage,
    bytes_under,
    remove_stale,
)
from tests.e2e.recorded import RecordedRun, record_gate_run
from tests.e2e.test_recording import decode
from tests.web.conftest import PASSWORD

USERS = {"commander": "commander", "other": "commander", "field": "field", "admin": "admin"}
GOOD_ID = "A" * 32  # well-formed, never issued
OWNER = "user:commander"  # the key of the commander's session: jobs made here are theirs


class Clock:
    """A settable clock that runs with the wall clock until moved on (the job flow needs time to pass)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def recorded(tmp_path: Path, db_url: str) -> tuple[RecordedRun, Store]:
    run = record_gate_run(tmp_path, db_url)
    store = Store(db_url)
    for name, role in USERS.items():
        create_user(store.users, name, PASSWORD, role, at=datetime.now(UTC))
    return run, store


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordedRun, Store]]:
    """One recorded run (on SQLite) for the module: each test's app has its own jobs."""
    tmp = tmp_path_factory.mktemp("export-api")
    run, store = recorded(tmp, f"sqlite:///{tmp / 'rw.db'}")
    with store:
        yield run, store


@pytest.fixture
def clock() -> Clock:
    return Clock()


def app_client(store: Store, run: RecordedRun, clock: Clock, **settings: Any) -> TestClient:
    # No free-space floor unless a test sets one: this machine's free disk is not what these tests are about.
    values: dict[str, Any] = {"exports_min_free_bytes": 0, **settings}
    return TestClient(create_app(store, WebConfig(**values), recording=RecordingConfig(dir=run.root),
                                 clock=clock))


@pytest.fixture
def client(world: tuple[RecordedRun, Store], clock: Clock) -> Iterator[TestClient]:
    run, store = world
    with app_client(store, run, clock) as c:
        login(c, "commander")
        yield c


def login(client: TestClient, user: str) -> None:
    client.cookies.clear()
    r = client.post("/api/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text


def finished(client: TestClient, job: dict[str, Any]) -> dict[str, Any]:
    """Poll the job until it has ended (the deadline only guards against a hang)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        r = client.get(f"/api/replay/exports/{job['id']}")
        assert r.status_code == 200, r.text
        got: dict[str, Any] = r.json()
        if got["state"] in ("done", "failed"):
            return got
        time.sleep(0.05)
    raise AssertionError(f"export job {job['id']} did not end")


def around_alert(store: Store) -> tuple[Any, datetime, datetime]:
    (alert,) = store.alerts.find()
    return alert, alert.opened_at - timedelta(seconds=4), alert.opened_at + timedelta(seconds=6)


def members(zip_bytes: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def magenta(image: np.ndarray) -> int:
    b, g, r = (image[..., i].astype(int) for i in range(3))
    return int(np.count_nonzero((b > 180) & (r > 180) & (g < 90)))


def test_a_range_export_job_ends_in_a_zip_whose_members_decode(tmp_path: Path, db_url: str, clock: Clock) -> None:
    run, store = recorded(tmp_path, db_url)
    with store, app_client(store, run, clock) as client:
        login(client, "commander")
        alert, since, until = around_alert(store)
        frames = frames_between(store, "gate", since, until)
        walker = store.positions.of_subject(alert.subject_id, since, until)
        r = client.post("/api/replay/exports", json={"camera": "gate", "from": since.isoformat(),
                                                     "to": until.isoformat(), "boxes": True})
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/api/replay/exports/{job['id']}" and len(job["id"]) >= 32
        assert job["state"] in ("queued", "running", "done") and job["kind"] == "range"
        job = finished(client, job)
        assert job["state"] == "done", job
        assert job["frames_done"] == job["frames_total"] == len(frames) == 50
        assert job["download_url"] == f"/api/replay/exports/{job['id']}/download"
        got = client.get(job["download_url"])
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "application/zip"
        base = "range-gate-" + since.strftime("%Y%m%dT%H%M%SZ") + "-" + until.strftime("%Y%m%dT%H%M%SZ")
        assert got.headers["content-disposition"] == f'attachment; filename="routewatch-{base}.zip"'
        files = members(got.content)
        assert sorted(files) == sorted(base + ext for ext in (".geojson", ".html", ".kml", ".mp4"))
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(files[f"{base}.mp4"])
        images = decode(clip)
        assert len(images) == len(frames)
        assert min(magenta(img) for img, f in zip(images, frames, strict=True) if f.boxes) > 100
        geo = json.loads(files[f"{base}.geojson"])
        mine = [f["geometry"]["coordinates"] for f in geo["features"]
                if f["geometry"]["type"] == "Point" and f["properties"]["subject_id"] == alert.subject_id]
        assert mine == [[f.lon, f.lat] for f in walker]
        kml = ET.fromstring(files[f"{base}.kml"])
        ns = {"k": "http://www.opengis.net/kml/2.2"}
        assert len(kml.findall(".//k:Point", ns)) == len(geo["features"]) - len(kml.findall(".//k:LineString", ns))
        assert f"<code>{alert.id}</code>" in files[f"{base}.html"].decode()
        assert job["size_bytes"] == len(got.content)
        root = client.app.state.exports.root  # type: ignore[attr-defined]
        # On the recordings' disk, beside the cameras' directories: their retention sweep leaves it alone.
        assert root is not None and root.is_dir() and root.parent == run.root / EXPORTS_DIR
        assert sweep(store, run.root, "gate", grace_s=0)["orphans_removed"] == 0
        again = client.get(job["download_url"])
        assert again.status_code == 200 and again.content == got.content
    # Shut down: every job's files are gone, its lock too.
    assert not root.exists() and sorted((run.root / EXPORTS_DIR).iterdir()) == []


def test_an_alert_export_job_without_boxes(client: TestClient, world: tuple[RecordedRun, Store],
                                           tmp_path: Path) -> None:
    _, store = world
    (alert,) = store.alerts.find()
    r = client.post("/api/replay/exports", json={"alert_id": alert.id, "boxes": False, "before_s": 1, "after_s": 2})
    assert r.status_code == 202, r.text
    job = finished(client, r.json())
    assert job["state"] == "done" and job["kind"] == "alert" and "frames of camera gate" in job["note"]
    got = client.get(job["download_url"])
    assert got.status_code == 200
    files = members(got.content)
    stem = f"alert-{alert.id}"
    assert sorted(files) == sorted(stem + ext for ext in (".geojson", ".html", ".kml", ".mp4"))
    clip = tmp_path / "a.mp4"
    clip.write_bytes(files[f"{stem}.mp4"])
    images = decode(clip)
    assert len(images) == job["frames_total"] > 0 and max(magenta(img) for img in images) < 20


@pytest.mark.parametrize(("body", "status", "says"), [
    ({}, 422, "either alert_id"),
    ({"alert_id": "x", "camera": "gate", "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T03:00:10Z"}, 422,
     "either alert_id"),
    ({"boxes": True}, 422, "either alert_id"),
    ({"camera": "gate", "from": "2026-05-01T03:00:00Z"}, 422, "needs from and to"),
    ({"alert_id": "x", "from": "2026-05-01T03:00:00Z"}, 422, "go with camera"),
    ({"alert_id": "x", "area": [5, 52, 6, 53]}, 422, "go with camera"),
    ({"camera": "gate", "from": "2026-05-01T03:00:00", "to": "2026-05-01T03:00:10Z"}, 422, "time zone"),
    ({"camera": "gate", "from": "2026-05-01T03:00:10Z", "to": "2026-05-01T03:00:00Z"}, 422, "reversed"),
    ({"camera": "gate", "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T03:00:00Z"}, 422, "empty"),
    ({"camera": "gate", "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T04:00:01Z"}, 422, "longer than 1 h"),
    ({"camera": "gate", "from": "2026-05-01T00:00:00Z", "to": "2026-05-01T09:00:00Z"}, 422, "longer than 6 h"),
    ({"camera": "gate", "from": "noon", "to": "2026-05-01T03:00:10Z"}, 422, "from"),
    ({"camera": "gate", "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T03:00:10Z", "area": [5, 52, 6]}, 422,
     "area"),
    ({"camera": "gate", "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T03:00:10Z", "area": [6, 52, 5, 53]}, 422,
     "minlon (6.0) must be less than maxlon"),
    ({"camera": "gate", "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T03:00:10Z", "boxes": "yes"}, 422, "boxes"),
    ({"camera": "gate", "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T03:00:10Z", "path": "../x"}, 422, "path"),
    ({"camera": "", "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T03:00:10Z"}, 422, "camera"),
    ({"camera": "g" * 65, "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T03:00:10Z"}, 422, "camera"),
    ({"alert_id": ""}, 422, "alert_id"),
    ({"alert_id": "x", "before_s": -1}, 422, "before_s"),
    ({"alert_id": "x", "after_s": 601}, 422, "after_s"),
    ([], 422, "object"),
    ("not json", 422, "JSON"),
    ({"camera": "nope", "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T03:00:10Z"}, 404, "nope"),
    ({"camera": "../../etc", "from": "2026-05-01T03:00:00Z", "to": "2026-05-01T03:00:10Z"}, 404,
     "nothing recorded for camera"),
    ({"alert_id": "../../etc/passwd"}, 404, "no alert with id"),
    ({"alert_id": "x", "pad": "y" * 5000}, 413, "limit"),
])
def test_bad_bodies_are_refused(client: TestClient, body: Any, status: int, says: str) -> None:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    r = client.post("/api/replay/exports", content=content, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert says in r.json()["detail"], r.json()
    assert client.app.state.exports.root is None  # type: ignore[attr-defined]  # no job, no files


@pytest.mark.parametrize(("path", "status"), [
    (f"/api/replay/exports/{GOOD_ID}", 404),
    (f"/api/replay/exports/{GOOD_ID}/download", 404),
    ("/api/replay/exports/short", 422),
    ("/api/replay/exports/" + "A" * 65, 422),
    ("/api/replay/exports/AAAAAAAAAAAAAAAA.zip", 422),
    ("/api/replay/exports/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", 404),  # not even routed: slashes in a path segment
])
def test_unknown_or_malformed_jobs(client: TestClient, path: str, status: int) -> None:
    assert client.get(path).status_code == status


def test_a_field_user_may_not_export_nor_see_jobs(client: TestClient, world: tuple[RecordedRun, Store]) -> None:
    _, store = world
    alert, _, _ = around_alert(store)
    r = client.post("/api/replay/exports", json={"alert_id": alert.id})
    assert r.status_code == 202
    job = finished(client, r.json())
    login(client, "field")
    assert client.post("/api/replay/exports", json={"alert_id": alert.id}).status_code == 403
    assert client.get(f"/api/replay/exports/{job['id']}").status_code == 403
    assert client.get(f"/api/replay/exports/{job['id']}/download").status_code == 403


def test_another_users_job_is_not_found_for_them(client: TestClient, world: tuple[RecordedRun, Store]) -> None:
    _, store = world
    alert, _, _ = around_alert(store)
    job = finished(client, client.post("/api/replay/exports", json={"alert_id": alert.id}).json())
    assert job["state"] == "done"
    for user in ("other", "admin"):  # another commander, and an admin too: jobs are their maker's alone
        login(client, user)
        assert client.get(f"/api/replay/exports/{job['id']}").status_code == 404
        assert client.get(f"/api/replay/exports/{job['id']}/download").status_code == 404
    login(client, "commander")
    assert client.get(f"/api/replay/exports/{job['id']}/download").status_code == 200


def blocked(release: threading.Event) -> Callable[[Path, Callable[[int, int], None]], str]:
    """Work that holds the worker until `release` is set, then writes one file."""

    def work(out: Path, progress: Callable[[int, int], None]) -> str:
        release.wait(timeout=300)
        out.mkdir(parents=True)
        (out / "a.txt").write_text("a")
        progress(1, 1)
        return "held"

    return work


def test_too_many_jobs_at_once_is_409_and_a_job_not_done_is_not_downloaded(
        client: TestClient, world: tuple[RecordedRun, Store]) -> None:
    _, store = world
    alert, _, _ = around_alert(store)
    jobs: ExportJobs = client.app.state.exports  # type: ignore[attr-defined]
    release = threading.Event()
    try:
        held = [jobs.submit(OWNER, "alert", f"held-{k}.zip", blocked(release)) for k in range(MAX_ACTIVE)]
        r = client.post("/api/replay/exports", json={"alert_id": alert.id})
        assert r.status_code == 409 and "queued or running" in r.json()["detail"]
        waiting = client.get(f"/api/replay/exports/{held[-1].id}/download")
        assert waiting.status_code == 409 and "queued" in waiting.json()["detail"]
    finally:
        release.set()
    for job in held:
        assert finished(client, job.view().model_dump())["state"] == "done"
    assert client.post("/api/replay/exports", json={"alert_id": alert.id}).status_code == 202


def test_jobs_expire_by_age_and_by_count(client: TestClient, clock: Clock) -> None:
    jobs: ExportJobs = client.app.state.exports  # type: ignore[attr-defined]
    release = threading.Event()
    release.set()
    made = []
    for k in range(MAX_KEPT + 1):
        made.append(finished(client, jobs.submit(OWNER, "alert", f"j{k}.zip", blocked(release)).view().model_dump()))
    root = jobs.root
    assert root is not None
    # The oldest went when one more than MAX_KEPT had ended; the others are kept, with their files.
    assert client.get(f"/api/replay/exports/{made[0]['id']}").status_code == 404
    assert not (root / made[0]["id"]).exists()
    assert client.get(f"/api/replay/exports/{made[1]['id']}").status_code == 200
    assert client.get(made[-1]["download_url"]).status_code == 200
    assert sorted(p.name for p in root.iterdir()) == sorted(j["id"] for j in made[1:])
    # Past the TTL, all of them go.
    clock.offset = TTL + timedelta(seconds=1)
    assert client.get(f"/api/replay/exports/{made[-1]['id']}").status_code == 404
    assert list(root.iterdir()) == []


def test_a_failed_job_says_why_and_leaves_no_files(client: TestClient) -> None:
    jobs: ExportJobs = client.app.state.exports  # type: ignore[attr-defined]

    def broken(out: Path, progress: Callable[[int, int], None]) -> str:
        out.mkdir(parents=True)
        (out / "half.mp4").write_bytes(b"x")
        raise RuntimeError("secret internals")

    job = finished(client, jobs.submit(OWNER, "alert", "b.zip", broken).view().model_dump())
    assert job["state"] == "failed" and job["error"] == "the export failed; see the server log"
    assert "secret" not in json.dumps(job) and job["download_url"] is None
    r = client.get(f"/api/replay/exports/{job['id']}/download")
    assert r.status_code == 409 and "failed" in r.json()["detail"]
    assert jobs.root is not None and not (jobs.root / job["id"]).exists()


def test_shutdown_stops_a_running_job_and_removes_every_file(world: tuple[RecordedRun, Store], clock: Clock) -> None:
    run, store = world
    started = threading.Event()
    calls: list[int] = []

    def endless(out: Path, progress: Callable[[int, int], None]) -> str:
        out.mkdir(parents=True)
        (out / "part.mp4").write_bytes(b"x")
        while True:  # a long clip: only the shutdown ends it (its progress call raises)
            calls.append(1)
            progress(len(calls), 10**9)
            started.set()
            time.sleep(0.01)

    with app_client(store, run, clock) as client:
        login(client, "commander")
        jobs: ExportJobs = client.app.state.exports  # type: ignore[attr-defined]
        running = jobs.submit(OWNER, "range", "endless.zip", endless)
        queued = jobs.submit(OWNER, "range", "never.zip", endless)
        assert started.wait(timeout=300)
        assert client.get(f"/api/replay/exports/{running.id}").json()["state"] == "running"
        assert client.get(f"/api/replay/exports/{queued.id}").json()["state"] == "queued"
        root = jobs.root
        assert root is not None and (root / running.id / "files" / "part.mp4").is_file()
    stopped_at = len(calls)
    time.sleep(0.1)
    assert len(calls) == stopped_at  # the worker has let go
    assert not root.exists() and jobs.root is None


def test_an_api_tokens_job_is_that_tokens_alone(world: tuple[RecordedRun, Store], clock: Clock) -> None:
    run, store = world
    alert, _, _ = around_alert(store)
    # Two tokens of one (non-ASCII) name: a job is its maker's by the token's id, not by the shown name.
    mine = store.users.add_api_token("Überwachung", "commander", at=datetime.now(UTC))[1]
    twin = store.users.add_api_token("Überwachung", "commander", at=datetime.now(UTC))[1]
    with app_client(store, run, clock) as client:
        bearer = {"Authorization": f"Bearer {mine}"}
        r = client.post("/api/replay/exports", json={"alert_id": alert.id, "before_s": 1, "after_s": 1},
                        headers=bearer)
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 300
        while (job := client.get(r.headers["location"], headers=bearer).json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert job["state"] == "done", job
        got = client.get(job["download_url"], headers=bearer)
        assert got.status_code == 200 and f"alert-{alert.id}.mp4" in members(got.content)
        for other in ({"Authorization": f"Bearer {twin}"}, {}):
            if not other:  # and the commander's session, not a token at all
                login(client, "commander")
            assert client.get(r.headers["location"], headers=other).status_code == 404
            assert client.get(job["download_url"], headers=other).status_code == 404


def test_a_disk_below_the_floor_refuses_an_export(world: tuple[RecordedRun, Store], clock: Clock) -> None:
    run, store = world
    alert, _, _ = around_alert(store)
    with app_client(store, run, clock, exports_min_free_bytes=10**18) as client:  # more than any disk holds
        login(client, "commander")
        r = client.post("/api/replay/exports", json={"alert_id": alert.id})
        assert r.status_code == 507 and "not enough free disk space" in r.json()["detail"], r.text
        root = client.app.state.exports.root  # type: ignore[attr-defined]
        assert root is not None and list(root.iterdir()) == []  # no job, no files


KB = 1000


def chunks(frames: int) -> Callable[[Path, Callable[[int, int], None]], str]:
    """Work that writes a 'clip' of `frames` frames of 1 kB each (stored as is in the zip), reporting each frame."""

    def work(out: Path, progress: Callable[[int, int], None]) -> str:
        out.mkdir(parents=True)
        with (out / "clip.mp4").open("wb") as f:
            for n in range(1, frames + 1):
                f.write(os.urandom(KB))
                f.flush()
                progress(n, frames)
        return f"{frames} frames"

    return work


# (disk capacity, free-space floor, byte budget, frames of each job in turn, how each ended, the jobs kept at the end).
# The disk is a small one made up from the files really written under the exports directory.
BOUNDS = [
    pytest.param(10**6, 0, 10**6, [], [], [], id="no-jobs"),
    pytest.param(10**6, 0, 100 * KB, [10, 10], ["done", "done"], [0, 1], id="both-fit"),
    # Over the budget: the oldest done job makes room for the new one.
    pytest.param(10**6, 0, 25 * KB, [10, 10, 10], ["done", "done", "done"], [1, 2], id="budget-drops-oldest"),
    pytest.param(10**6, 0, 20 * KB, [30], ["over the 20.0 kB kept for exports"], [], id="a-job-over-the-budget"),
    # Low disk: the oldest done jobs go first; a job that would still pass the floor fails, between frames.
    pytest.param(40 * KB, 5 * KB, 10**6, [15, 15, 15], ["done", "done", "done"], [2], id="disk-drops-oldest"),
    pytest.param(20 * KB, 5 * KB, 10**6, [50], ["not enough free disk space"], [], id="disk-fills-mid-clip"),
    pytest.param(3 * KB, 5 * KB, 10**6, [5], ["refused"], [], id="disk-low-before-start"),
]


@pytest.mark.parametrize(("capacity", "floor", "budget", "frames", "ended", "kept"), BOUNDS)
def test_the_disk_and_the_budget_bound_the_kept_jobs(tmp_path: Path, capacity: int, floor: int, budget: int,
                                                      frames: list[int], ended: list[str], kept: list[int]) -> None:
    base = tmp_path / "exports"
    jobs = ExportJobs(lambda: datetime.now(UTC), Storage(base, budget, floor),
                      free_bytes=lambda _: capacity - bytes_under(base))
    made: list[str] = []
    try:
        for n, expect in zip(frames, ended, strict=True):
            try:
                job = jobs.submit(OWNER, "range", f"r{len(made)}.zip", chunks(n))
            except HTTPException as exc:
                assert expect == "refused" and exc.status_code == 507 and "not enough free" in str(exc.detail)
                continue
            made.append(job.id)
            deadline = time.monotonic() + 300
            while (now := jobs.get(job.id, OWNER)).state not in ("done", "failed"):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            if expect == "done":
                assert now.state == "done" and now.size_bytes > n * KB, now
            else:
                assert now.state == "failed" and expect in now.error, now
                assert 0 < now.frames_done < n  # it stopped between frames, not at the end
                assert jobs.root is not None and not (jobs.root / job.id).exists()  # its files are gone
        still = [k for k, job_id in enumerate(made) if _seen(jobs, job_id) == "done"]
        assert still == kept
        listed = sorted(p.name for p in jobs.root.iterdir()) if jobs.root is not None else []
        assert listed == sorted(made[k] for k in kept)  # the files of the kept jobs, nothing else
        done = sum(jobs.get(made[k], OWNER).size_bytes for k in kept)
        assert done <= budget and (not kept or capacity - bytes_under(base) >= floor)
    finally:
        jobs.close()
    assert not base.exists() or list(base.iterdir()) == []


def _seen(jobs: ExportJobs, job_id: str) -> str:
    try:
        return jobs.get(job_id, OWNER).state
    except HTTPException:
        return "gone"


# What another process left under the exports directory: (its lock file: none, free or held; old?) -> removed?
STALE = [
    pytest.param(None, False, False, id="no-lock-young"),
    pytest.param(None, True, True, id="no-lock-old"),
    pytest.param("free", False, False, id="free-lock-young"),
    pytest.param("free", True, True, id="free-lock-old"),  # its process died
    pytest.param("held", True, False, id="held-lock-old"),  # its process lives, however long
]


@pytest.mark.parametrize(("lock", "old", "removed"), STALE)
def test_what_a_dead_process_left_is_removed(tmp_path: Path, lock: str | None, old: bool, removed: bool) -> None:
    base = tmp_path / "exports"
    other = base / "jobs-0123456789abcdef"
    (other / "job").mkdir(parents=True)
    (other / "job" / "x.zip").write_bytes(b"x")
    lock_file = base / f"{other.name}.lock"
    fd = os.open(lock_file, os.O_CREAT | os.O_RDWR) if lock is not None else None
    try:
        if fd is not None and lock == "held":
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        then = time.time() - (STALE_S + 60 if old else 0)
        for path in (other, lock_file):
            if path.exists():
                os.utime(path, (then, then))
        foreign = base / "notes.txt"  # not ours: never touched
        foreign.write_text("keep")
        os.utime(foreign, (then, then))
        remove_stale(base, time.time())
        assert other.exists() != removed and lock_file.exists() == (lock is not None and not removed)
        assert foreign.read_text() == "keep"
    finally:
        if fd is not None:
            os.close(fd)
