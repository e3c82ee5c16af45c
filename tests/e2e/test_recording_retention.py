"""Retention of real segment files (age, disk budget, alert tiers, orphans) and a full disk, on both databases.

Segments are recorded by the real recorder (OpenCV files, store rows); alerts are real rows. The
full disk is met three ways: a real tmpfs too small for the run (needs root to mount; skipped
otherwise), the real free space below `min_free_bytes`, and an injected writer that raises
ENOSPC at the OS-call boundary (OpenCV's own writer does not report write errors).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from routewatch.cameras.fixed import calibrate, track_frames
from routewatch.cli.main import main
from routewatch.config.cameras import CameraConfig
from routewatch.config.recording import AlertTierConfig, CameraRecordingConfig
from routewatch.ingest.video import iter_file
from routewatch.model import AlertChange, AlertState, Box, Change, Severity
from routewatch.recording.evidence import Image
from routewatch.recording.policy import Rule, Tier
from routewatch.recording.recorder import CameraRecorder
from routewatch.recording.retention import apply_retention, sweep
from routewatch.recording.segments import VideoSink, open_cv2
from routewatch.recording.service import Recordings
from routewatch.store import RecordedSegment, Store
from tests.adapters.test_store import at, make_alert
from tests.conftest import small_tmpfs

from .test_recording import check_rows_and_files, decode, disk
from .test_snapshots import gate_line
from .test_vision_fixed import GCP_POINTS, camera_file, render

WALL = datetime(2026, 6, 1, tzinfo=UTC)  # when the segments were recorded (wall clock)
DAY = 86_400.0
TIERS = [AlertTierConfig(min_severity=Severity.LOW, before_s=0.5, after_s=0.5, max_age_s=30 * DAY)]


class Clock:
    """A wall clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def recording_cfg(**kw: Any) -> CameraRecordingConfig:
    values: dict[str, Any] = {"enabled": True, "segment_s": 1, "max_age_s": DAY, "max_bytes": None,
                              "alert_tiers": TIERS}
    values.update(kw)
    return CameraRecordingConfig.model_validate(values)


def frames(seconds: float, fps: float = 5.0) -> Iterator[tuple[datetime, Image, tuple[Box, ...]]]:
    rng = np.random.default_rng(3)
    for i in range(round(seconds * fps)):
        image = (rng.random((64, 96, 3)) * 255).astype(np.uint8)
        yield at(i / fps), image, (Box(i, 2, i + 20, 30, "car", 0.5, track=str(i % 3)),)


def record(store: Store, root: Path, seconds: float = 8.0, clock: Clock | None = None) -> list[RecordedSegment]:
    """One-second segments of `seconds` of synthetic frames; returns their rows."""
    rec = CameraRecorder("gate", recording_cfg(), disk(root), store.recordings, fps=5, wait=True,
                         clock=clock or Clock(WALL))
    for t, image, boxes in frames(seconds):
        rec.put(t, image, boxes)
    rec.close()
    return store.recordings.segments("gate")


def short_alert(subject: str, opened: float, closed: float, **kw: Any) -> list[AlertChange]:
    alert = make_alert(subject, opened=opened, **kw)
    done = dataclasses.replace(alert, state=AlertState.CLOSED, closed_at=at(closed), last_seen=at(closed), updates=1)
    return [AlertChange(Change.OPENED, alert), AlertChange(Change.CLOSED, done)]


def starts(store: Store) -> list[float]:
    return [(s.start - at(0)).total_seconds() for s in store.recordings.segments("gate")]


def test_retention_deletes_old_footage_and_keeps_footage_around_alerts(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    assert len(record(store, root)) == 8  # 0-0.8 s, 1-1.8 s, ... 7-7.8 s
    # The camera's own alert at 3.2-3.4 s (kept 0.5 s either side: segments 2 and 3); another camera's
    # alert at 6.1 s does not count for this camera's tier (scope: camera).
    store.batches.write(short_alert("gate/1", 3.2, 3.4, severity=Severity.HIGH, source="gate")
                + short_alert("pier/4", 6.1, 6.2, source="pier"), [])
    clock = Clock(WALL + timedelta(hours=12))
    cam = CameraConfig.model_validate({"name": "gate", "gcps": [[0, 0, 0, 0]] * 4, "recording": recording_cfg()})
    recordings = Recordings(disk(root), [cam], store, clock=clock)
    try:
        assert recordings.retention_once() == Counter()  # all younger than a day
        clock.now = WALL + timedelta(days=2)
        done = recordings.retention_once()
        assert starts(store) == [2.0, 3.0]
        assert done["deleted_age"] == 6 and done["bytes_freed"] > 0
        check_rows_and_files(store, root)
        clock.now = WALL + timedelta(days=31)
        recordings.retention_once()
        assert starts(store) == []
        check_rows_and_files(store, root)
        assert not list((root / "gate").iterdir()) or all(p.is_dir() for p in (root / "gate").iterdir())
    finally:
        recordings.close()


def test_the_disk_budget_deletes_the_oldest_first_and_alert_footage_last(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    segs = record(store, root)
    store.batches.write(short_alert("gate/1", 3.2, 3.4, source="gate"), [])
    sizes = {round((s.start - at(0)).total_seconds()): s.size_bytes for s in segs}
    tiers = (Tier(Severity.LOW, 0.5, 0.5, 30 * DAY),)
    now = WALL + timedelta(hours=1)
    # Room for three segments: the alert's two and the newest.
    done = apply_retention(store, root, "gate", Rule(DAY, sizes[2] + sizes[3] + sizes[7], tiers), now)
    assert starts(store) == [2.0, 3.0, 7.0]
    assert done["deleted_budget"] == 5
    check_rows_and_files(store, root)
    # Tighter than the alert's footage: it goes too, oldest first.
    apply_retention(store, root, "gate", Rule(DAY, sizes[3], tiers), now)
    assert starts(store) == [3.0]
    check_rows_and_files(store, root)


def test_rows_go_before_files_and_the_sweep_reconciles(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    segs = record(store, root)
    old = time.time() - 7200
    # A crash between retention's row delete (committed) and its file delete: the file is an orphan.
    assert store.recordings.delete_segments([segs[0].id]) == [segs[0].path]
    os.utime(root / segs[0].path, (old, old))
    # A file someone deleted by hand: its row must go.
    (root / segs[1].path).unlink()
    # A half-written segment from a crash, old; a young file that may be about to get its row; an old file
    # that a recorder says it is still writing.
    day = (root / segs[2].path).parent
    part, young, active = day / "235959.000000Z.part.mp4", day / "235958.000000Z.mp4", day / "235957.000000Z.mp4"
    for p in (part, young, active):
        p.write_bytes(b"\x00" * 100)
    for p in (part, active):
        os.utime(p, (old, old))
    done = sweep(store, root, "gate", grace_s=3600, active={str(active.relative_to(root))})
    assert (done["orphans_removed"], done["missing_files"]) == (2, 1)
    assert not (root / segs[0].path).exists() and not part.exists() and young.exists() and active.exists()
    young.unlink()
    active.unlink()
    check_rows_and_files(store, root)  # every row has its file, every file its row
    assert starts(store) == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]

    # Retention after files went missing (no error), and a recordings disk that is not there (rows kept).
    (root / segs[2].path).unlink()
    assert apply_retention(store, root, "gate", Rule(1.0, None), WALL + timedelta(days=1))["deleted_age"] == 6
    record(store, root, seconds=2)
    shutil.move(root / "gate", tmp_path / "elsewhere")
    done = sweep(store, root, "gate", grace_s=3600)
    assert done["sweep_skipped"] == 1 and len(store.recordings.segments("gate")) == 2


class FailingSink:
    """OpenCV's writer that raises ENOSPC on the `fail_at`-th frame written by any sink (like write(2) would)."""

    written = 0

    def __init__(self, inner: VideoSink, fail_at: int) -> None:
        self.inner, self.fail_at = inner, fail_at

    def write(self, image: Image) -> None:
        FailingSink.written += 1
        if FailingSink.written >= self.fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.inner.write(image)

    def release(self) -> None:
        self.inner.release()


def gate_observations(tmp_path: Path, rec: Any = None) -> list[Any]:
    video = tmp_path / "gate.avi"
    if not video.exists():
        render(video)
    cam = CameraConfig.model_validate(json.loads(camera_file(tmp_path / "camera.json", GCP_POINTS).read_text()))
    assert cam.start_time is not None
    return list(track_frames(iter_file(video, "gate", cam.start_time), cam, calibrate(cam), Counter(), record=rec))


def test_enospc_while_writing_stops_recording_and_detection_goes_on(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    FailingSink.written = 0
    rec = CameraRecorder("gate", recording_cfg(segment_s=10), disk(root), store.recordings, fps=5, wait=True,
                         open_video=lambda p, c, f, s: FailingSink(open_cv2(p, c, f, s), fail_at=70))
    with_recording = gate_observations(tmp_path, rec)
    rec.close()
    assert with_recording == gate_observations(tmp_path)  # the same tracks, as without recording
    assert rec.stopped
    counts = rec.counters()
    # Frames 1-69 were written: segment one (50) and the 19 frames of segment two before the failure, kept.
    assert [s.frames for s in store.recordings.segments("gate")] == [50, 19]
    assert (counts["recorded_frames"], counts["record_skipped"], counts["disk_full"]) == (69, 125 - 69, 1)
    (event,) = store.recordings.events("gate")
    assert event.kind == "stopped" and "disk full" in event.reason and "No space left" in event.reason
    check_rows_and_files(store, root)


def test_free_space_below_the_minimum_stops_recording(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    huge = 10**15  # more than any disk here has free: the real free space is below it
    rec = CameraRecorder("gate", recording_cfg(), disk(root, min_free_bytes=huge, resume_free_bytes=huge),
                         store.recordings, fps=5, wait=True)
    obs = gate_observations(tmp_path, rec)
    rec.close()
    assert obs and rec.stopped and store.recordings.segments("gate") == []
    (event,) = store.recordings.events("gate")
    assert event.kind == "stopped" and "below recording.min_free_bytes" in event.reason
    assert event.free_bytes is not None and 0 < event.free_bytes < huge
    assert rec.counters()["record_skipped"] == 125


def test_a_stopped_camera_resumes_when_space_is_free_again(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    free = {"bytes": 10**12}
    ticks = {"s": 0.0}
    rec = CameraRecorder("gate", recording_cfg(), disk(root, min_free_bytes=1000, resume_free_bytes=5000,
                                                       retry_s=30), store.recordings, fps=5, wait=True,
                         free=lambda _: free["bytes"], monotonic=lambda: ticks["s"])
    feed = list(frames(6))

    def put(items: list[Any]) -> None:
        for t, image, boxes in items:
            rec.put(t, image, boxes)
        rec.drain()  # written before the free space changes again

    put(feed[:10])        # 0-1.8 s recorded
    free["bytes"] = 10    # the disk fills up
    put(feed[10:15])      # stopped
    free["bytes"] = 4000  # some space, but under resume_free_bytes
    ticks["s"] = 31.0
    put(feed[15:20])
    free["bytes"] = 10**12
    put(feed[20:22])      # not yet: the last look was at 31 s
    ticks["s"] = 62.0
    put(feed[22:30])      # resumed at 4.4 s
    rec.close()
    assert [e.kind for e in store.recordings.events("gate")] == ["stopped", "resumed"]
    segs = store.recordings.segments("gate")
    # A segment spans segment_s from its own first frame: after the gap, 4.4-5.2 s and 5.4-5.8 s.
    assert [(round((s.start - at(0)).total_seconds(), 1), s.frames) for s in segs] == [(0.0, 5), (1.0, 5), (4.4, 5),
                                                                                         (5.4, 3)]
    check_rows_and_files(store, root)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 200 KiB tmpfs (root only: skipped where mounting is not allowed)."""
    with small_tmpfs(tmp_path / "tiny", "200k") as mnt:
        yield mnt


@pytest.mark.parametrize("min_free", [pytest.param(0, id="disk-really-full"),
                                      pytest.param(80_000, id="stops-before-full")])
def test_a_full_disk_in_analyze_stops_recording_with_an_event_and_the_alert_still_comes(
        tiny_disk: Path, tmp_path: Path, db_url: str, min_free: int) -> None:
    video = tmp_path / "gate.avi"
    render(video)
    cam_path = camera_file(tmp_path / "camera.json", GCP_POINTS)
    cam = json.loads(cam_path.read_text())
    cam["recording"] = {"enabled": True, "segment_s": 5}
    cam_path.write_text(json.dumps(cam))
    config = tmp_path / "settings.yaml"
    config.write_text(json.dumps({"recording": {"dir": str(tiny_disk), "min_free_bytes": min_free,
                                                "resume_free_bytes": min_free, "retry_s": 86400}}))
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam_path), "--corridors",
                                    str(gate_line(tmp_path)), "--db", db_url, "-c", str(config), "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)  # the recorder's error log goes to stderr
    with Store(db_url) as store:
        assert [(a.kind.value, a.corridor_id) for a in store.alerts.find()] == [("cross", "gate-line")]
        (event,) = store.recordings.events("gate")
        assert event.kind == "stopped" and "disk full" in event.reason, event
        segs = store.recordings.segments("gate")
        recorded = sum(s.frames for s in segs)
        assert 0 < recorded < 125  # some footage before the disk filled, none after
        check_rows_and_files(store, tiny_disk)  # what is registered decodes whole; no half file is left
    ingest = summary["ingest"]
    assert ingest["recording_disk_full"] == 1 and ingest["recording_record_stopped"] == 1
    assert [p for p in tiny_disk.rglob("*.part.*")] == []
    for seg in segs:
        assert len(decode(tiny_disk / seg.path)) == seg.frames
