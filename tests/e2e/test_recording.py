"""Recording a synthetic run: segments decode frame for frame at the stored times, boxes read back as tracked.

The gate scene of test_vision_fixed (a bright 2 m square walking north, rendered from a known
ground truth) goes through the fixed-camera vision path with a recorder; the recorded segments
are decoded with OpenCV and the square found in each decoded frame must sit where the ground
truth puts it at that frame's stored time (and not where it was a frame earlier or later).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from routewatch.app.live import run_live
from routewatch.cameras.fixed import calibrate, track_frames
from routewatch.config.cameras import CameraConfig
from routewatch.config.recording import RecordingConfig
from routewatch.config.schema import Settings
from routewatch.ingest.video import iter_file
from routewatch.model import Box, Corridor, CorridorKind
from routewatch.recording.boxlog import as_stored
from routewatch.recording.evidence import Image
from routewatch.recording.frameindex import unpack_times
from routewatch.recording.read import frames_between
from routewatch.recording.recorder import CameraRecorder
from routewatch.store import Store

from .livegate import run_gate_stream
from .test_vision_fixed import FRAME, GCP_POINTS, T0, camera_file, render, to_image, truth

SEGMENT_S = 10.0
PERIOD_S = 0.2  # 5 fps processed


def gate_camera(tmp_path: Path, **recording: Any) -> CameraConfig:
    cam = json.loads(camera_file(tmp_path / "camera.json", GCP_POINTS).read_text())
    return CameraConfig.model_validate({**cam, "recording": {"enabled": True, "segment_s": SEGMENT_S, **recording}})


def disk(root: Path, **kw: Any) -> RecordingConfig:
    return RecordingConfig.model_validate({"dir": str(root), "min_free_bytes": 0, "resume_free_bytes": 0, **kw})


@dataclass
class Tee:
    """Passes frames to a recorder and keeps what the vision path produced: times, boxes, small grey images."""

    inner: Any
    times: list[datetime] = field(default_factory=list)
    boxes: list[tuple[Box, ...]] = field(default_factory=list)

    def put(self, time: datetime, image: Image, boxes: tuple[Box, ...]) -> None:
        self.times.append(time)
        self.boxes.append(boxes)
        self.inner.put(time, image, boxes)


def target_centre(image: np.ndarray) -> tuple[float, float] | None:
    """Centroid of the near-white square in a decoded frame (None when it is not in view)."""
    ys, xs = np.nonzero(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) > 235)
    return (float(xs.mean()), float(ys.mean())) if len(xs) >= 5 else None


def decode(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            return out
        out.append(img)


def check_rows_and_files(store: Store, root: Path, camera: str = "gate") -> None:
    """Every row's file is there, decodes, and has the row's frame count; no other file (or half file) is left."""
    rows = store.recordings.segments(camera, blobs=True)
    for seg in rows:
        frames = decode(root / seg.path)
        assert len(frames) == seg.frames == len(unpack_times(seg.times)), seg.path
        assert (root / seg.path).stat().st_size == seg.size_bytes
        assert frames[0].shape == (seg.height, seg.width, 3)
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert on_disk == {s.path for s in rows}


def test_a_recorded_run_reads_back_frame_for_frame(tmp_path: Path, db_url: str) -> None:
    video = tmp_path / "gate.avi"
    render(video)
    cam = gate_camera(tmp_path)
    root = tmp_path / "rec"
    counts: Counter[str] = Counter()
    with Store(db_url) as store:
        store.upgrade()
        rec = CameraRecorder("gate", cam.recording, disk(root), store.recordings, fps=cam.fps, wait=True)
        tee = Tee(rec)
        assert cam.start_time is not None
        obs = list(track_frames(iter_file(video, "gate", cam.start_time), cam, calibrate(cam), counts, record=tee))
        rec.close()
        assert obs and counts["frames_processed"] == len(tee.times) == 125  # 25 s at 5 fps
        segs = store.recordings.segments("gate", blobs=True)
        # 10 s segments of event time: 0-9.8 s, 10-19.8 s, 20-24.8 s.
        assert [(s.start, s.end, s.frames) for s in segs] == [
            (T0, T0 + timedelta(seconds=9.8), 50), (T0 + timedelta(seconds=10), T0 + timedelta(seconds=19.8), 50),
            (T0 + timedelta(seconds=20), T0 + timedelta(seconds=24.8), 25)]
        assert [t for s in segs for t in unpack_times(s.times)] == tee.times  # every frame's time, exactly
        check_rows_and_files(store, root)
        assert rec.counters()["recorded_frames"] == 125 and rec.counters().get("record_dropped", 0) == 0

        # Each decoded frame shows the scene at its stored time: the square is where the truth puts it
        # then (sub-pixel), and a frame-period off would put it 1.5-2 px away.
        errors: dict[int, list[float]] = {-1: [], 0: [], 1: []}
        for seg in segs:
            for image, t in zip(decode(root / seg.path), unpack_times(seg.times), strict=True):
                centre = target_centre(image)
                t_s = (t - T0).total_seconds()
                if centre is None or t_s < 3.5:
                    continue
                for shift in errors:
                    u, v = to_image(*truth(t_s + shift * PERIOD_S))
                    errors[shift].append(float(np.hypot(centre[0] - u, centre[1] - v)))
        assert len(errors[0]) > 90
        assert np.mean(errors[0]) < 0.6 and max(errors[0]) < 1.5, (np.mean(errors[0]), max(errors[0]))
        assert np.mean(errors[0]) < np.mean(errors[-1]) / 2 and np.mean(errors[0]) < np.mean(errors[1]) / 2

        # The boxes read back are the tracker's, frame by frame (float32 storage).
        back = frames_between(store, "gate", T0, T0 + timedelta(seconds=30))
        assert [f.time for f in back] == tee.times
        assert [f.boxes for f in back] == [tuple(as_stored(b) for b in bs) for bs in tee.boxes]
        assert sum(1 for bs in tee.boxes if bs) > 90  # the target was tracked most of the time
        # A window reads only its frames (both ends included), across a segment boundary.
        window = frames_between(store, "gate", T0 + timedelta(seconds=9.6), T0 + timedelta(seconds=10.2))
        assert [(f.path, f.index) for f in window] == [(segs[0].path, 48), (segs[0].path, 49), (segs[1].path, 0),
                                                       (segs[1].path, 1)]


@pytest.mark.parametrize(("since", "until", "message"), [
    (T0 + timedelta(seconds=5), T0, "reversed"),
    (T0, T0 + timedelta(days=2), "longer than"),
])
def test_bad_time_ranges_are_refused(tmp_path: Path, since: datetime, until: datetime, message: str) -> None:
    with Store(f"sqlite:///{tmp_path / 'rw.db'}") as store:
        store.upgrade()
        with pytest.raises(ValueError, match=message):
            frames_between(store, "gate", since, until)
        assert frames_between(store, "gate", T0, T0) == []  # empty range, nothing recorded: nothing


def test_run_records_file_cameras_off_the_event_loop(tmp_path: Path, db_url: str) -> None:
    from shapely.geometry import LineString

    video = tmp_path / "gate.avi"
    render(video)
    cam = json.loads(camera_file(tmp_path / "camera.json", GCP_POINTS).read_text())
    root = tmp_path / "rec"
    settings = Settings.model_validate({
        "cameras": [{**cam, "url": str(video), "recording": {"enabled": True, "segment_s": SEGMENT_S}}],
        "store": {"url": db_url, "flush_s": 0.2, "journal_dir": str(tmp_path / "journal")},
        "recording": {"dir": str(root), "min_free_bytes": 0, "resume_free_bytes": 0},
    })
    line = Corridor("gate-line", FRAME.to_lonlat(LineString([(0, 30), (100, 30)])), kind=CorridorKind.LINE)
    with Store(db_url) as store:
        store.upgrade()
        saved = store.corridors.save([line], author="test", comment="", at=T0 - timedelta(days=1))

        async def go() -> Any:
            return await run_live(settings, store, saved, stop=asyncio.Event(), exit_when_files_done=True)

        summary = asyncio.run(go())
        assert [(a.kind.value, a.corridor_id) for a in store.alerts.find()] == [("cross", "gate-line")]
        counts = summary.ingest
        processed = counts["camera_file_frames_processed"]
        assert processed == 125
        # `run` never waits for the disk: what is not recorded was dropped, and counted.
        assert counts["recording_recorded_frames"] + counts["recording_record_dropped"] == processed
        segs = store.recordings.segments("gate")
        assert sum(s.frames for s in segs) == counts["recording_recorded_frames"] > 0
        check_rows_and_files(store, root)


def test_analyze_records_a_drone_video_including_frames_without_a_pose(tmp_path: Path, db_url: str) -> None:
    from click.testing import CliRunner

    from routewatch.cli.main import main
    from tests.kits import dronescene as scene

    from .test_vision_drone import camera_file as drone_camera_file

    video = tmp_path / "flight.avi"
    scene.render(video)
    scene.telemetry(tmp_path / "flight.tlog")
    cam_path = drone_camera_file(tmp_path / "uav.json", max_pose_gap_s=0.5)
    cam = json.loads(cam_path.read_text())
    cam_path.write_text(json.dumps({**cam, "recording": {"enabled": True, "segment_s": SEGMENT_S}}))
    root = tmp_path / "rec"
    config = tmp_path / "settings.yaml"
    config.write_text(json.dumps({"recording": {"dir": str(root), "min_free_bytes": 0, "resume_free_bytes": 0}}))
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam_path), "--db", db_url, "-c",
                                    str(config), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    ingest = json.loads(res.stdout)["ingest"]
    with Store(db_url) as store:
        frames = frames_between(store, "uav", scene.T0, scene.T0 + timedelta(seconds=scene.SECONDS + 1))
        check_rows_and_files(store, root, "uav")
    assert len(frames) == ingest["frames_processed"] == ingest["recording_recorded_frames"] > 0
    # The telemetry gap: frames recorded (the commander sees them) but nothing placed, so no boxes.
    gap = [f for f in frames if 15.95 < (f.time - scene.T0).total_seconds() < 18.55]
    assert len(gap) == ingest["no_pose"] == 13 and all(f.boxes == () for f in gap)
    assert sum(1 for f in frames if f.boxes) > len(frames) // 2


def test_run_records_a_live_http_stream(tmp_path: Path, db_url: str) -> None:

    from tests.kits.mjpeg import MjpegServer

    from .test_run_cameras import scene_jpegs

    jpegs = scene_jpegs(tmp_path, 10.0)
    root = tmp_path / "rec"
    with MjpegServer([jpegs], fps=20.0) as server, Store(db_url) as store:
        # The whole stream, and its alert.
        summary = run_gate_stream(server, store, db_url, tmp_path, root=root, sent=len(jpegs),
                                  recording={"segment_s": SEGMENT_S})
        counts = summary.ingest
        segs = store.recordings.segments("gate", blobs=True)
        assert sum(s.frames for s in segs) == counts["recording_recorded_frames"] > 0
        assert counts["recording_recorded_frames"] + counts["recording_record_dropped"] <= counts["camera_processed"]
        times = [t for s in segs for t in unpack_times(s.times)]
        assert times == sorted(times) and times[0] > T0  # capture (wall) times of a live stream
        back = frames_between(store, "gate", times[0], times[-1])
        assert len(back) == len(times) and any(f.boxes for f in back)  # the walker's boxes, as tracked
        check_rows_and_files(store, root)


def test_a_live_drone_camera_records_its_processed_frames(tmp_path: Path, db_url: str) -> None:
    """`run` wires a live drone camera's recorder: its frames are recorded, those without a pose with no boxes."""
    import threading
    import time

    from routewatch.cameras.livepose import LivePoseTrack
    from routewatch.cameras.runtime import start_live_camera
    from routewatch.ingest.handoff import Handoff
    from tests.kits.mjpeg import MjpegServer, level_frame

    cam = CameraConfig.model_validate({
        "name": "uav", "kind": "drone", "fps": 5, "queue_frames": 100, "stale_s": 2,
        "drone": {"hfov_deg": 60, "ground_alt_m": 0, "fixed_mount_deg": [0, -90, 0]},
        "recording": {"enabled": True, "segment_s": 2}})
    frames = [level_frame(20 + 2 * i) for i in range(40)]  # 4 s at 10 fps
    loop = asyncio.new_event_loop()  # no pose, so no observations: the handoff is never used
    stop = threading.Event()
    root = tmp_path / "rec"
    with MjpegServer([frames], fps=10.0) as server, Store(db_url) as store:
        store.upgrade()
        rec = CameraRecorder("uav", cam.recording, disk(root), store.recordings, fps=cam.fps)
        feed = start_live_camera(cam.model_copy(update={"url": server.url}), Handoff(loop, asyncio.Queue()), stop,
                                 pose=LivePoseTrack(require_gimbal=False), record=rec)
        deadline = time.monotonic() + 60
        while (server.sent < len(frames) or len(feed.queue) or feed.queue.taken < 15) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        time.sleep(0.5)  # the processing thread finishes its frame
        rec.close()
        segs = store.recordings.segments("uav", blobs=True)
        check_rows_and_files(store, root, "uav")
        back = [f for s in segs for f in frames_between(store, "uav", s.start, s.end)]
    loop.close()
    assert feed.vision["no_pose"] == feed.counters()["processed"] >= 15
    assert len(back) == rec.counters()["recorded_frames"] >= 15 and all(f.boxes == () for f in back)
