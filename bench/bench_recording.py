"""Recording cost per camera: CPU and disk bytes per hour with recording, against the same processing without.

Usage: YOLO_OFFLINE=1 python bench/bench_recording.py [--video traffic_topdown.mp4] [--no-model]
       [--codecs mp4v,MJPG,VP80,copy] [--repeat 3]

A real video goes through the fixed-camera path at 5 fps (decode, motion gate, detector + tracker
when the model is there, ground points, corridor rules), once without recording and once per codec
with it (segment files + frame index + box log in a SQLite store, the writer waiting for the disk
so every frame is recorded). `copy` is recording.mode copy: the file's own H.264 packets remuxed
(PyAV), every source frame kept, no encoding. CPU is process time (all threads: the writer's and
OpenCV's too), the median of --repeat runs each. Prints one JSON line:
- baseline_cpu_s_per_video_s: processing without recording;
- per codec: cpu_s_per_video_s, cpu_ratio (with / without), extra_cores_per_camera, disk_bytes_per_hour
  (segment files), db_bytes_per_hour (frame times + boxes), frames recorded vs processed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2

from routewatch.cameras.fixed import calibrate, observations
from routewatch.config.cameras import CameraConfig
from routewatch.config.recording import CameraRecordingConfig, RecordingConfig
from routewatch.config.schema import Settings
from routewatch.geo.crs import LocalFrame
from routewatch.pipeline.core import Pipeline
from routewatch.recording.copyrecorder import CopyRecorder
from routewatch.recording.recorder import CameraRecorder
from routewatch.store import Store

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODEL = SHARED / "models" / "yolo11n_int8_openvino_model"
T0 = datetime(2026, 5, 1, tzinfo=UTC)
FRAME = LocalFrame(10.0, 50.0)
FPS = 5.0


def camera(path: Path, model: bool) -> CameraConfig:
    cap = cv2.VideoCapture(str(path))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    # A plausible ground plane: the image bottom is 10 m away, the top 60 m, 40 m wide.
    pts = [(0, h, -20, 10), (w, h, 20, 10), (w * 0.8, 0, 20, 60), (w * 0.2, 0, -20, 60)]
    gcps = [(u, v, *FRAME.lonlat(x, y)) for u, v, x, y in pts]
    detector: dict[str, Any] = {"model": str(MODEL)} if model else {}
    return CameraConfig(name="bench", start_time=T0, gcps=gcps, fps=FPS, max_error_m=5.0, detector=detector)


def once(video: Path, cam: CameraConfig, codec: str | None, work: Path) -> dict[str, Any]:
    """One pass; with `codec`, recorded into `work`. CPU seconds, frames, and what the recording took."""
    calib = calibrate(cam)
    settings = Settings()
    pipeline = Pipeline([], settings.engine, settings.alerts)
    counts: Counter[str] = Counter()
    store = Store(f"sqlite:///{work / 'bench.db'}")
    store.upgrade()
    rec: CameraRecorder | None = None
    disk = RecordingConfig(dir=work / "rec", min_free_bytes=0, resume_free_bytes=0)
    if codec == "copy":
        rec = CopyRecorder("bench", CameraRecordingConfig(enabled=True, mode="copy"), disk, store.recordings, fps=FPS,
                           wait=True)
    elif codec is not None:
        rec = CameraRecorder("bench", CameraRecordingConfig(enabled=True, codec=codec),  # type: ignore[arg-type]
                             disk, store.recordings, fps=FPS, wait=True)
    c0, t0 = time.process_time(), time.perf_counter()
    for obs in observations(video, cam, calib, counts, record=rec):
        pipeline.feed(obs)
    if rec is not None:
        rec.close()
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    segs = store.recordings.segments("bench", blobs=True)
    out = {"cpu_s": cpu, "wall_s": wall, "processed": counts["frames_processed"],
           "recorded": sum(s.frames for s in segs), "disk_bytes": sum(s.size_bytes for s in segs),
           "db_bytes": sum(len(s.times) + len(s.boxes) for s in segs), "segments": len(segs),
           "counts": rec.counters() if rec is not None else {}}
    store.close()
    return out


def measure(video: Path, cam: CameraConfig, codec: str | None, repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rw-bench-rec-") as tmp:
            runs.append(once(video, cam, codec, Path(tmp)))
    best = dict(runs[0])
    best["cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
    best["wall_s"] = statistics.median(r["wall_s"] for r in runs)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--video", default=str(SHARED / "video" / "traffic_topdown.mp4"))
    ap.add_argument("--no-model", action="store_true", help="Motion gate and IoU tracker only (no detector).")
    ap.add_argument("--codecs", default="mp4v,MJPG,VP80,copy")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    video = Path(a.video)
    model = not a.no_model and MODEL.is_dir()
    cam = camera(video, model)
    base = measure(video, cam, None, a.repeat)
    video_s = base["processed"] / FPS  # each processed frame stands for 1/FPS s of video
    per_h = 3600.0 / video_s
    base_cpu = base["cpu_s"] / video_s
    codecs: dict[str, Any] = {}
    for codec in [c for c in a.codecs.split(",") if c]:
        r = measure(video, cam, codec, a.repeat)
        cpu = r["cpu_s"] / video_s
        codecs[codec] = {
            "cpu_s_per_video_s": round(cpu, 4), "cpu_ratio": round(cpu / base_cpu, 3),
            "extra_cores_per_camera": round(cpu - base_cpu, 4),
            "disk_bytes_per_hour": round(r["disk_bytes"] * per_h), "db_bytes_per_hour": round(r["db_bytes"] * per_h),
            "frames_recorded": r["recorded"], "frames_processed": r["processed"], "segments": r["segments"],
            "dropped": r["counts"].get("record_dropped", 0),
        }
    print(json.dumps({"bench": "recording_cost", "video": video.name, "detector": "yolo11n-int8-openvino" if model
                      else "motion-only", "fps_processed": FPS, "video_s": round(video_s, 1), "repeat": a.repeat,
                      "baseline_cpu_s_per_video_s": round(base_cpu, 4), "codecs": codecs}), flush=True)


if __name__ == "__main__":
    main()
