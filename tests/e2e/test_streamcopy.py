"""Stream copy (recording.mode copy): real H.264 files, an H.264 file with B-frames, an MJPEG file, a live stream.

A real video goes through the fixed-camera vision path (motion gate and IoU tracker at 5 fps) with a
copy recorder; then the copied segments must hold the source's packets byte for byte, each segment
starting at a keyframe, every frame with the time the vision path gives the same frame, frames read
back through replay.frames equal to the source's frames at the same time, each frame with the boxes of
the processed frame at or before it, and an exported clip made from them.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from routewatch.cameras.fixed import calibrate, observations
from routewatch.cli.main import main
from routewatch.config.cameras import CameraConfig
from routewatch.geo.crs import LocalFrame
from routewatch.ingest.video import iter_file
from routewatch.model import Box
from routewatch.recording.boxlog import as_stored
from routewatch.recording.evidence import Image
from routewatch.recording.frameindex import unpack_times
from routewatch.recording.read import RecordedFrame, frames_between
from routewatch.recording.recorder import CameraRecorder, FileSource
from routewatch.recording.service import recorder_for
from routewatch.replay.export import write_clip
from routewatch.replay.frames import decode_frames, read_frame
from routewatch.store import Store
from tests.kits.require import missing, require_file, require_module

from .livegate import run_gate_stream
from .test_recording import check_rows_and_files, decode, disk
from .test_snapshots import gate_line
from .test_vision_fixed import GCP_POINTS, T0, camera_file, render

av = require_module("av")

FPS = 5.0
PLANE = LocalFrame(10.0, 50.0)
# name: segment_s (a few segments each: people.mp4 has keyframes every 128 frames of 30 fps)
REAL = {"traffic_topdown.mp4": 10.0, "people.mp4": 2.0, "intel_car-detection.mp4": 5.0}


@dataclass
class Tee:
    """Passes processed frames (and the file they come from) to a recorder, keeping their times and boxes."""

    inner: CameraRecorder
    times: list[datetime] = field(default_factory=list)
    boxes: list[tuple[Box, ...]] = field(default_factory=list)

    def follow(self, source: FileSource) -> None:
        self.inner.follow(source)

    def put(self, time: datetime, image: Image, boxes: tuple[Box, ...]) -> None:
        self.times.append(time)
        self.boxes.append(boxes)
        self.inner.put(time, image, boxes)


def plane_camera(video: Path, **recording: Any) -> CameraConfig:
    """A fixed camera over a plausible ground plane (bottom of the image 10 m away, top 60 m), recording by copy."""
    cap = cv2.VideoCapture(str(video))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    pts = [(0, h, -20, 10), (w, h, 20, 10), (w * 0.8, 0, 20, 60), (w * 0.2, 0, -20, 60)]
    return CameraConfig.model_validate({
        "name": "cam", "start_time": T0.isoformat(), "fps": FPS, "max_error_m": 5.0,
        "gcps": [(u, v, *PLANE.lonlat(x, y)) for u, v, x, y in pts],
        "recording": {"enabled": True, "mode": "copy", "segment_s": 10.0, **recording}})


def bframes_video(path: Path) -> Path:
    """An H.264 file with B-frames (libx264, 3 B-frames, a keyframe every 24 frames), numbered frames."""
    if "libx264" not in av.codecs_available:
        missing("this PyAV has no libx264 encoder")
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=Fraction(15))
        s.width, s.height, s.pix_fmt = 320, 192, "yuv420p"
        s.options = {"bf": "3", "g": "24", "keyint_min": "24", "sc_threshold": "0", "crf": "20"}
        for i in range(150):
            img = np.zeros((192, 320, 3), np.uint8)
            img[:] = (40 + i % 100, 90, 140)
            x = 10 + 2 * i
            cv2.rectangle(img, (x, 60), (x + 40, 120), (250, 250, 250), -1)  # a moving square: motion, boxes
            cv2.putText(img, str(i), (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


@pytest.fixture(params=[pytest.param(n, marks=pytest.mark.slow) if n == "people.mp4" else n
                        for n in [*REAL, "bframes.mp4"]])  # people.mp4 is 1080p: ~20 s
def video(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, float]:
    """A video to copy and its segment length."""
    if request.param == "bframes.mp4":
        return bframes_video(tmp_path / "bframes.mp4"), 3.0
    shared: Path = request.getfixturevalue("shared_data")
    return require_file(shared / "video" / request.param), REAL[request.param]


def packets(path: Path) -> list[tuple[bool, bytes]]:
    """The video packets of a file (keyframe flag, bytes), in file order."""
    with av.open(str(path)) as c:
        return [(bool(p.is_keyframe), bytes(p)) for p in c.demux(c.streams.video[0]) if p.size]


def all_frames(video: Path, keep: set[datetime] | None = None) -> Iterator[tuple[datetime, Image | None]]:
    """Every frame OpenCV decodes from the source, timed as the vision path times it (images only in `keep`)."""
    for f in iter_file(video, "cam", T0):
        yield f.time, (np.array(f.image) if keep is not None and f.time in keep else None)


def record(video: Path, cam: CameraConfig, root: Path, store: Store) -> tuple[Tee, Counter[str], dict[str, int]]:
    rec = recorder_for(cam, disk(root), store.recordings, wait=True)
    tee = Tee(rec)
    counts: Counter[str] = Counter()
    list(observations(video, cam, calibrate(cam), counts, record=tee))
    rec.close()
    return tee, counts, rec.counters()


def expected_boxes(tee: Tee, t: datetime) -> tuple[Box, ...]:
    """The boxes the player shows on a frame at `t`: the last processed frame's at or before it, within 2/FPS."""
    i = max((k for k, pt in enumerate(tee.times) if pt <= t), default=None)
    if i is None or (t - tee.times[i]).total_seconds() > 2 / FPS:
        return ()
    return tuple(as_stored(b) for b in tee.boxes[i])


def test_copied_segments_hold_the_source_packets_and_frames_at_their_times(
        video: tuple[Path, float], tmp_path: Path, db_url: str) -> None:
    path, segment_s = video
    cam = plane_camera(path, segment_s=segment_s)
    root = tmp_path / "rec"
    with Store(db_url) as store:
        store.upgrade()
        tee, counts, rc = record(path, cam, root, store)
        segs = store.recordings.segments("cam", blobs=True)
        frames = frames_between(store, "cam", T0, T0 + timedelta(hours=1))
        check_rows_and_files(store, root, "cam")  # every row's file decodes whole, to its frame count
    assert len(segs) >= 3 and counts["frames_processed"] == len(tee.times) > 40
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        codec, size = s.codec_context.name, (s.codec_context.width, s.codec_context.height)
    assert {(g.codec, g.width, g.height) for g in segs} == {(f"copy:{codec}", *size)}
    assert sum(g.frames for g in segs) == len(frames) == rc["recorded_frames"]
    assert rc.get("record_dropped", 0) == rc.get("record_skipped", 0) == rc.get("copy_fallback", 0) == 0

    # Byte for byte: the segments' packets, in order, are the source's from its first keyframe on.
    src = packets(path)
    first_key = next(i for i, (key, _) in enumerate(src) if key)
    copied = [p for g in segs for p in packets(root / g.path)]
    assert copied == src[first_key:first_key + len(copied)]
    assert rc.get("copy_waiting_keyframe", 0) == first_key  # the packets before it cannot decode alone
    for g in segs:  # each segment starts at a keyframe and spans segment_s (its keyframe after that ends it)
        assert packets(root / g.path)[0][0] is True
    assert all((b.start - a.start).total_seconds() >= segment_s for a, b in itertools.pairwise(segs))

    # Every frame the vision path decodes, up to a processing period after the last processed one, is
    # recorded at exactly the time the vision path gives it; nothing the source does not have.
    # Frames to read back by seeking (as the web player does), and a run across a segment boundary (as export).
    rng = np.random.default_rng(5)
    by_seg: dict[str, list[RecordedFrame]] = {}
    for f in frames:
        by_seg.setdefault(f.path, []).append(f)
    picks = [fs[i] for fs in by_seg.values() for i in {0, len(fs) // 2, len(fs) - 1}]
    picks += [frames[int(i)] for i in rng.choice(len(frames), 6, replace=False)]
    first = len(by_seg[segs[0].path])
    run = frames[max(first - 3, 0):first + 3]
    source = dict(all_frames(path, {f.time for f in picks + run}))  # one pass: every frame's time, some images

    # Every frame the vision path decodes, up to a processing period after the last processed one, is
    # recorded at exactly the time the vision path gives it; nothing the source does not have.
    window = tee.times[-1] + timedelta(seconds=1 / FPS)
    seen = list(source)
    recorded = [f.time for f in frames]
    assert [t for t in recorded if t in source] == [t for t in seen if t <= window]
    assert len(set(recorded) - set(seen)) <= 1  # traffic_topdown's truncated last keyframe, which OpenCV skips
    assert recorded == sorted(recorded) and recorded[-1] <= window
    assert [t for g in segs for t in unpack_times(g.times)] == recorded

    # Frames read back equal the source's frames at the same times, pixel for pixel.
    for f in picks:
        if f.time in source:
            assert np.array_equal(read_frame(root, f.path, f.index), source[f.time]), (f.path, f.index)
    decoded = list(decode_frames(root, run))
    assert len(decoded) == len(run) and {f.path for f in run} == {segs[0].path, segs[1].path}
    for f, image in decoded:
        assert np.array_equal(image, source[f.time]), (f.path, f.index)

    # Boxes: each copied frame shows the processed frame's boxes at or before it (within two periods).
    assert [f.boxes for f in frames] == [expected_boxes(tee, f.time) for f in frames]
    on_processed = {f.time: f.boxes for f in frames}
    assert all(on_processed[t] == tuple(as_stored(b) for b in bs) for t, bs in zip(tee.times, tee.boxes,
                                                                                     strict=True) if t <= window)
    assert sum(1 for f in frames if f.boxes) > len(frames) // 4  # moving things were tracked

    # An export from copied segments: every frame of the range, decoded and re-encoded.
    clip = tmp_path / "clip.mp4"
    part = frames[len(frames) // 3: len(frames) // 3 + 40]
    assert write_clip(root, part, clip, boxes=True) == len(part)
    back = decode(clip)
    assert len(back) == len(part) and back[0].shape == (size[1], size[0], 3)


def test_analyze_copies_an_mjpeg_video_and_the_alert_is_the_same(tmp_path: Path, db_url: str) -> None:
    """The gate scene (an MJPEG .avi) in `analyze --camera` with mode copy: MJPEG packets into MP4 segments."""
    video = tmp_path / "gate.avi"
    render(video)
    cam_path = camera_file(tmp_path / "camera.json", GCP_POINTS)
    cam = json.loads(cam_path.read_text())
    cam["recording"] = {"enabled": True, "mode": "copy", "segment_s": 5}
    cam_path.write_text(json.dumps(cam))
    root = tmp_path / "rec"
    config = tmp_path / "settings.yaml"
    config.write_text(json.dumps({"recording": {"dir": str(root), "min_free_bytes": 0, "resume_free_bytes": 0}}))
    res = CliRunner().invoke(main, ["analyze", str(video), "--camera", str(cam_path), "--corridors",
                                    str(gate_line(tmp_path)), "--db", db_url, "-c", str(config), "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    ingest = json.loads(res.stdout)["ingest"]
    with Store(db_url) as store:
        assert [(a.kind.value, a.corridor_id) for a in store.alerts.find()] == [("cross", "gate-line")]
        segs = store.recordings.segments("gate", blobs=True)
        check_rows_and_files(store, root, "gate")
        frames = frames_between(store, "gate", T0, T0 + timedelta(seconds=30))
    assert {s.codec for s in segs} == {"copy:mjpeg"}
    # MJPEG: every frame is a keyframe, so segments are exactly segment_s of the 10 fps source; all 250 frames.
    assert [s.frames for s in segs] == [50] * 5 and len(frames) == ingest["recording_recorded_frames"] == 250
    assert packets(video) == [p for s in segs for p in packets(root / s.path)]
    times = [f.time for f in frames]
    assert times == [t for t, _ in all_frames(video)]
    assert ingest["frames_processed"] == 125 and sum(1 for f in frames if f.boxes) > 180


def test_run_copies_a_live_http_mjpeg_stream(tmp_path: Path, db_url: str) -> None:
    """A live camera over HTTP: a second connection copies its MJPEG packets while the first is processed."""

    from tests.kits.mjpeg import MjpegServer

    from .test_run_cameras import scene_jpegs

    jpegs = scene_jpegs(tmp_path, 10.0)
    root = tmp_path / "rec"
    # Two sessions of the same frames: one for the vision path's connection, one for the copy's.
    with MjpegServer([jpegs, jpegs], fps=20.0) as server, Store(db_url) as store:
        # Both sessions whole, and the alert.
        summary = run_gate_stream(server, store, db_url, tmp_path, root=root, sent=2 * len(jpegs),
                                  recording={"mode": "copy", "segment_s": 5}, linger_s=0.5)
        counts = summary.ingest
        segs = store.recordings.segments("gate", blobs=True)
        check_rows_and_files(store, root)
        times = [t for s in segs for t in unpack_times(s.times)]
        back = frames_between(store, "gate", times[0], times[-1])
    assert {s.codec for s in segs} == {"copy:mjpeg"}
    # The copy keeps every frame the camera sent it (20 fps), not only the 5 fps processed.
    assert len(times) == counts["recording_recorded_frames"] == len(jpegs)
    assert counts["recording_recorded_frames"] > counts["camera_processed"]
    copied = [data for s in segs for _, data in packets(root / s.path)]
    assert copied == jpegs  # the camera's own JPEGs, byte for byte
    assert times == sorted(times) and times[0] > T0  # capture (wall) times of a live stream
    assert len(back) == len(times) and sum(1 for f in back if f.boxes) > 20  # the walker's boxes, as tracked


def gray_frames(n: int) -> Iterator[tuple[datetime, Image]]:
    rng = np.random.default_rng(3)
    for i in range(n):
        yield T0 + timedelta(seconds=i / FPS), (rng.random((64, 96, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize(("mode", "level"), [("copy", "ERROR"), ("auto", "WARNING")])
def test_a_codec_mp4_cannot_hold_is_encoded_instead(tmp_path: Path, mode: str, level: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    video = tmp_path / "vp8.webm"  # VP8: MP4 cannot hold it
    out = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"VP80"), FPS, (96, 64))
    for _, image in gray_frames(20):
        out.write(image)
    out.release()
    cam = plane_camera(video, mode=mode)
    with Store(f"sqlite:///{tmp_path / 'rw.db'}") as store:
        store.upgrade()
        tee, _, rc = record(video, cam, tmp_path / "rec", store)
        segs = store.recordings.segments("cam")
        check_rows_and_files(store, tmp_path / "rec", "cam")
    assert rc["copy_fallback"] == 1 and {s.codec for s in segs} == {"mp4v"}
    assert sum(s.frames for s in segs) == len(tee.times) == 20  # the processed frames, encoded
    (rec,) = [r for r in caplog.records if "cannot be copied" in r.getMessage()]
    assert rec.levelname == level and "codec vp8 cannot be copied into MP4" in rec.getMessage()


@pytest.mark.parametrize("url", ["mqtt", "0"])
def test_auto_encodes_frames_that_have_no_stream_to_copy(tmp_path: Path, url: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    cam = CameraConfig.model_validate({"name": "cam", "url": url, "gcps": [[0, 0, 0, 0]] * 4,
                                       "recording": {"enabled": True, "mode": "auto"}})
    with Store(f"sqlite:///{tmp_path / 'rw.db'}") as store:
        store.upgrade()
        rec = recorder_for(cam, disk(tmp_path / "rec"), store.recordings, wait=True)
        for t, image in gray_frames(10):
            rec.put(t, image, ())
        rec.close()
        segs = store.recordings.segments("cam")
    assert {s.codec for s in segs} == {"mp4v"} and sum(s.frames for s in segs) == 10
    assert any("recording.mode auto" in r.getMessage() and "no encoded stream to copy" in r.getMessage()
               for r in caplog.records)


def test_without_pyav_copy_is_refused_and_auto_encodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from routewatch.recording.service import Recordings
    from routewatch.recording.streamcopy import CopyUnavailable

    monkeypatch.setitem(sys.modules, "av", None)  # as if the video extra were not installed
    video = tmp_path / "x.mp4"
    with Store(f"sqlite:///{tmp_path / 'rw.db'}") as store:
        store.upgrade()
        copy = CameraConfig.model_validate({"name": "cam", "url": str(video), "gcps": [[0, 0, 0, 0]] * 4,
                                            "recording": {"enabled": True, "mode": "copy"}})
        with pytest.raises(CopyUnavailable, match=r"camera cam: recording.mode copy: .*pip install"):
            Recordings(disk(tmp_path / "rec"), [copy], store)
        auto = copy.model_copy(update={"recording": copy.recording.model_copy(update={"mode": "auto"})})
        rec = recorder_for(auto, disk(tmp_path / "rec"), store.recordings, wait=True)
        rec.follow(FileSource(video, T0))
        for t, image in gray_frames(5):
            rec.put(t, image, ())
        rec.close()
        assert [s.codec for s in store.recordings.segments("cam")] == ["mp4v"]
