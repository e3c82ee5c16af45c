"""Copied segments under retention and a full disk, as encoded ones: real H.264 packets, real files and rows.

Retention deletes copied segments by age and by budget (rows first, then files); the sweep leaves the
segment being written and those waiting for their boxes alone. A full disk (a real 200 KiB tmpfs, or
free space below `min_free_bytes`) stops copy recording with a `stopped` event while detection goes on;
a stopped camera resumes at the next keyframe once space is free again.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from routewatch.cli.main import main
from routewatch.config.cameras import CameraConfig
from routewatch.config.recording import AlertTierConfig
from routewatch.ingest.video import iter_file
from routewatch.model import Severity
from routewatch.recording.policy import Rule
from routewatch.recording.recorder import FileSource
from routewatch.recording.retention import apply_retention
from routewatch.recording.service import Recordings, recorder_for
from routewatch.store import RecordedSegment, Store
from routewatch.tracking.sampler import Sampler
from tests.adapters.test_store import at
from tests.conftest import small_tmpfs
from tests.kits.require import require_file, require_module

from .test_recording import check_rows_and_files, decode, disk
from .test_recording_retention import WALL, Clock, short_alert
from .test_snapshots import gate_line
from .test_streamcopy import packets, plane_camera
from .test_vision_fixed import GCP_POINTS, T0, camera_file, render

require_module("av")
DAY = 86_400.0


@pytest.fixture
def traffic(shared_data: Path) -> Path:
    return require_file(shared_data / "video" / "traffic_topdown.mp4")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: about three one-second segments of the gate scene's MJPEG (root only, else skipped)."""
    with small_tmpfs(tmp_path / "small", "1m") as mnt:
        yield mnt


def copy_file(video: Path, cam: CameraConfig, root: Path, store: Store, on_frame: Any = None,
              **kw: Any) -> tuple[Any, list[RecordedSegment]]:
    """The recorder fed as the vision path feeds it: the file named, then each 5 fps frame (no detection)."""
    limits, clock = kw.pop("disk", {}), kw.pop("clock", Clock(WALL))
    rec = recorder_for(cam, disk(root, **limits), store.recordings, wait=True, clock=clock, **kw)
    rec.follow(FileSource(video, T0))
    sampler = Sampler(cam.fps)
    for f in iter_file(video, cam.name, T0):
        if sampler.due(f.time):
            if on_frame is not None:
                on_frame(rec, f.time)
            rec.put(f.time, f.image, ())
    rec.close()
    return rec, store.recordings.segments(cam.name)


def starts(segs: list[RecordedSegment]) -> list[float]:
    return [round((s.start - T0).total_seconds(), 3) for s in segs]


def test_retention_deletes_copied_segments_by_age_budget_and_alerts(traffic: Path, store: Store,
                                                                    tmp_path: Path) -> None:
    root = tmp_path / "rec"
    tiers = [AlertTierConfig(min_severity=Severity.LOW, before_s=0.5, after_s=0.5, max_age_s=30 * DAY)]
    cam = plane_camera(traffic, segment_s=10.0, max_age_s=DAY, max_bytes=None, alert_tiers=tiers)
    _, segs = copy_file(traffic, cam, root, store)
    assert len(segs) == 7 and {s.codec for s in segs} == {"copy:h264"}
    check_rows_and_files(store, root, "cam")
    # The camera's own alert inside the third segment keeps it; the others go after a day.
    third = (segs[2].start + (segs[2].end - segs[2].start) / 2 - at(0)).total_seconds()
    store.batches.write(short_alert("cam/1", third, third + 0.2, source="cam"), [])
    clock = Clock(WALL + timedelta(hours=12))
    recordings = Recordings(disk(root), [cam], store, clock=clock)
    try:
        assert recordings.retention_once() == Counter()
        clock.now = WALL + timedelta(days=2)
        done = recordings.retention_once()
        assert [s.path for s in store.recordings.segments("cam")] == [segs[2].path]
        assert done["deleted_age"] == 6 and done["bytes_freed"] == sum(s.size_bytes for s in segs) - segs[2].size_bytes
        check_rows_and_files(store, root, "cam")
    finally:
        recordings.close()


def test_the_budget_deletes_the_oldest_copied_segments_first(traffic: Path, store: Store, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    cam = plane_camera(traffic, segment_s=10.0)
    _, segs = copy_file(traffic, cam, root, store)
    budget = sum(s.size_bytes for s in segs[-2:])
    done = apply_retention(store, root, "cam", Rule(DAY, budget), WALL + timedelta(hours=1))
    assert done["deleted_budget"] == len(segs) - 2
    assert starts(store.recordings.segments("cam")) == starts(segs[-2:])
    check_rows_and_files(store, root, "cam")


def test_free_space_below_the_minimum_stops_copying_with_an_event(traffic: Path, store: Store,
                                                                  tmp_path: Path) -> None:
    huge = 10**15
    cam = plane_camera(traffic)
    rec, segs = copy_file(traffic, cam, tmp_path / "rec", store,
                          disk={"min_free_bytes": huge, "resume_free_bytes": huge})
    assert segs == [] and rec.stopped
    (event,) = store.recordings.events("cam")
    assert event.kind == "stopped" and "below recording.min_free_bytes" in event.reason
    # Every packet of the file was skipped, and no partial file is left.
    assert rec.counters()["record_skipped"] == len(packets(traffic))
    assert [p for p in (tmp_path / "rec").rglob("*") if p.is_file()] == []


def test_a_stopped_copy_resumes_at_the_next_keyframe(traffic: Path, store: Store, tmp_path: Path) -> None:
    free = {"bytes": 10**12}
    ticks = {"s": 0.0}

    def on_frame(rec: Any, t: datetime) -> None:
        s = (t - T0).total_seconds()
        if 20.0 <= s < 20.2 or 40.0 <= s < 40.2:
            rec.drain()  # everything before is written with the free space as it was
            free["bytes"], ticks["s"] = (10, 0.0) if s < 30 else (10**12, 100.0)

    cam = plane_camera(traffic, segment_s=10.0)
    rec, segs = copy_file(traffic, cam, tmp_path / "rec", store, on_frame,
                          disk={"min_free_bytes": 1000, "resume_free_bytes": 5000, "retry_s": 30},
                          free=lambda _: free["bytes"], monotonic=lambda: ticks["s"])
    assert [e.kind for e in store.recordings.events("cam")] == ["stopped", "resumed"]
    assert not rec.stopped
    check_rows_and_files(store, tmp_path / "rec", "cam")
    # Nothing between the stop (just before 20 s) and the first keyframe after the resume (just after 40 s).
    gap = [(a.end, b.start) for a, b in itertools.pairwise(segs) if (b.start - a.end).total_seconds() > 1]
    assert len(gap) == 1
    stopped_at, resumed_at = ((t - T0).total_seconds() for t in gap[0])
    assert 19.0 < stopped_at < 20.0 and 40.0 < resumed_at < 43.0
    for s in segs:
        assert packets(tmp_path / "rec" / s.path)[0][0] is True  # the resumed segment starts at a keyframe too


@pytest.mark.parametrize("min_free", [pytest.param(0, id="disk-really-full"),
                                      pytest.param(300_000, id="stops-before-full")])
def test_a_full_disk_stops_copying_with_an_event_and_the_alert_still_comes(
        small_disk: Path, tmp_path: Path, db_url: str, min_free: int) -> None:
    video = tmp_path / "gate.avi"
    render(video)  # MJPEG, 6.7 MB: far more than the disk
    cam_path = camera_file(tmp_path / "camera.json", GCP_POINTS)
    cam = json.loads(cam_path.read_text())
    cam["recording"] = {"enabled": True, "mode": "copy", "segment_s": 1}
    cam_path.write_text(json.dumps(cam))
    config = tmp_path / "settings.yaml"
    config.write_text(json.dumps({"recording": {"dir": str(small_disk), "min_free_bytes": min_free,
                                                "resume_free_bytes": min_free, "retry_s": 86400}}))
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam_path), "--corridors",
                                    str(gate_line(tmp_path)), "--db", db_url, "-c", str(config), "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    ingest = json.loads(res.stdout)["ingest"]
    with Store(db_url) as store:
        assert [(a.kind.value, a.corridor_id) for a in store.alerts.find()] == [("cross", "gate-line")]
        (event,) = store.recordings.events("gate")
        assert event.kind == "stopped" and "disk full" in event.reason, event
        segs = store.recordings.segments("gate")
        check_rows_and_files(store, small_disk, "gate")  # what is registered decodes whole; no half file is left
    assert {s.codec for s in segs} == {"copy:mjpeg"}
    assert 0 < sum(s.frames for s in segs) < 250  # some footage before the disk filled, none after
    assert ingest["recording_disk_full"] == 1 and ingest["recording_record_stopped"] == 1
    assert ingest["frames_processed"] == 125  # detection went on to the end
    assert list(small_disk.rglob("*.part.*")) == []
    for seg in segs:
        assert len(decode(small_disk / seg.path)) == seg.frames


def test_the_sweep_leaves_copied_segments_waiting_for_their_boxes_alone(store: Store, tmp_path: Path) -> None:
    """A live stream copied while processing lags: closed segments wait for boxes, files in place, no rows yet."""
    import time

    from routewatch.model import Box
    from routewatch.recording.retention import sweep
    from tests.kits.mjpeg import MjpegServer, level_frame

    root = tmp_path / "rec"
    frames = [level_frame(20 + 3 * i) for i in range(60)]  # 3 s at 20 fps; MJPEG: every frame a keyframe
    with MjpegServer([frames], fps=20.0) as server:
        cam = CameraConfig.model_validate({"name": "cam", "url": server.url, "gcps": [[0, 0, 0, 0]] * 4,
                                           "stale_s": 2, "recording": {"enabled": True, "mode": "copy",
                                                                       "segment_s": 1}})
        rec = recorder_for(cam, disk(root), store.recordings)
        rec.put(datetime.now(T0.tzinfo), np.zeros((120, 160, 3), np.uint8), ())  # the copy connects after it
        deadline = time.monotonic() + 60

        def files() -> set[str]:
            return {str(p.relative_to(root)) for p in root.rglob("*.mp4")}

        while len([f for f in files() if ".part." not in f]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        on_disk = files()  # closed segments waiting for boxes, and the one being written (.part)
        assert len(on_disk) >= 3 and any(".part." in f for f in on_disk) and store.recordings.segments("cam") == []
        done = sweep(store, root, "cam", grace_s=0, active=rec.active(), now_s=time.time() + 3600)
        # Nothing removed (the open one may have been closed meanwhile: renamed from .part to its final name).
        assert done["orphans_removed"] == 0
        assert all(f in files() or f.replace(".part.mp4", ".mp4") in files() for f in on_disk)
        # Processing catches up: a processed frame after them lets their rows in (its boxes on no frame of theirs).
        while server.sent < len(frames) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        rec.put(datetime.now(T0.tzinfo), np.zeros((120, 160, 3), np.uint8), (Box(1, 1, 5, 5, "car", 0.9, track="1"),))
        while len(store.recordings.segments("cam")) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(store.recordings.segments("cam")) >= 3
        rec.close()
    segs = store.recordings.segments("cam", blobs=True)
    check_rows_and_files(store, root, "cam")
    assert sum(s.frames for s in segs) == len(frames) and {s.codec for s in segs} == {"copy:mjpeg"}
    assert [data for s in segs for _, data in packets(root / s.path)] == frames
