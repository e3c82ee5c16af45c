"""Vision path speed against Ultralytics' bare model.track() on the same video, and what motion gating saves.

Usage: YOLO_OFFLINE=1 python bench/bench_vision.py [--video people.mp4] [--gate-video traffic_topdown.mp4]

Needs the detect extra and ../shared/data (video, yolo11n OpenVINO int8 model). Prints JSON lines:
- vision_fps: frames/s of routewatch's whole path (decode, detect+track, ground point, corridor rules)
  vs the bare loop (decode + model.track) over the same frames; target ratio >= 0.9;
- motion_gate: detector calls and CPU time with and without the gate on a mostly static camera, and the
  tracks found by each (target: >= 3x fewer calls with the same tracks);
- cpu_per_camera: CPU seconds per second of video at 5 fps, i.e. cameras per core.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import cv2

from routewatch.cameras.fixed import calibrate, observations
from routewatch.config.cameras import CameraConfig
from routewatch.config.schema import Settings
from routewatch.geo.crs import LocalFrame
from routewatch.pipeline.core import Pipeline

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODEL = SHARED / "models" / "yolo11n_int8_openvino_model"
T0 = datetime(2026, 5, 1, tzinfo=UTC)
FRAME = LocalFrame(10.0, 50.0)


def camera(path: Path, fps: float, gate: bool) -> CameraConfig:
    cap = cv2.VideoCapture(str(path))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    # A plausible ground plane: the image bottom is 10 m away, the top 60 m, 40 m wide.
    pts = [(0, h, -20, 10), (w, h, 20, 10), (w * 0.8, 0, 20, 60), (w * 0.2, 0, -20, 60)]
    gcps = [(u, v, *FRAME.lonlat(x, y)) for u, v, x, y in pts]
    classes = ["person", "bicycle", "car", "truck", "bus", "motorcycle"]
    return CameraConfig(name="bench", start_time=T0, gcps=gcps, fps=fps, max_error_m=5.0,
                        detector={"model": str(MODEL), "gate": gate, "classes": classes})


def bare(path: Path, every: int) -> tuple[int, float, set[int]]:
    from ultralytics import YOLO

    model = YOLO(str(MODEL), task="detect")
    names = dict(model.names)
    ids = [i for i, n in names.items() if n in {"person", "bicycle", "car", "truck", "bus", "motorcycle"}]
    cap = cv2.VideoCapture(str(path))
    n, tracks, idx = 0, set(), 0
    t = time.perf_counter()
    while True:
        ok, img = cap.read()
        if not ok:
            break
        idx += 1
        if (idx - 1) % every:
            continue
        r = model.track(img, persist=True, verbose=False, classes=ids, conf=0.35, tracker="bytetrack.yaml")
        if r[0].boxes.id is not None:
            tracks.update(int(i) for i in r[0].boxes.id.tolist())
        n += 1
    return n, time.perf_counter() - t, tracks


def ours(path: Path, fps: float, gate: bool) -> tuple[Counter[str], float, float, set[str]]:
    cam = camera(path, fps, gate)
    calib = calibrate(cam)
    pipeline = Pipeline([], Settings().engine, Settings().alerts)
    counts: Counter[str] = Counter()
    subjects: set[str] = set()
    t, c = time.perf_counter(), time.process_time()
    for obs in observations(path, cam, calib, counts):
        subjects.add(obs.subject_id)
        pipeline.feed(obs)
    return counts, time.perf_counter() - t, time.process_time() - c, subjects


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--video", default=str(SHARED / "video" / "people.mp4"))
    ap.add_argument("--gate-video", default=str(SHARED / "video" / "traffic_topdown.mp4"))
    a = ap.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    video = Path(a.video)
    src_fps = cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS) or 30.0
    n_bare, s_bare, _ = bare(video, 1)
    counts, s_ours, _, _ = ours(video, src_fps, gate=False)
    ours_fps, bare_fps = counts["frames_processed"] / s_ours, n_bare / s_bare
    print(json.dumps({"bench": "vision_fps", "video": video.name, "frames": n_bare,
                      "routewatch_fps": round(ours_fps, 2), "bare_track_fps": round(bare_fps, 2),
                      "ratio": round(ours_fps / bare_fps, 3), "target_ratio": 0.9}), flush=True)
    gvideo = Path(a.gate_video)
    g_fps = cv2.VideoCapture(str(gvideo)).get(cv2.CAP_PROP_FPS) or 10.0
    on, _, cpu_on, subj_on = ours(gvideo, g_fps, gate=True)
    off, _, cpu_off, subj_off = ours(gvideo, g_fps, gate=False)
    print(json.dumps({"bench": "motion_gate", "video": gvideo.name, "frames": off["frames_processed"],
                      "detector_calls_gated": on["detector_calls"], "detector_calls_ungated": off["detector_calls"],
                      "call_ratio": round(off["detector_calls"] / max(1, on["detector_calls"]), 2),
                      "cpu_s_gated": round(cpu_on, 2), "cpu_s_ungated": round(cpu_off, 2),
                      "tracks_gated": len(subj_on), "tracks_ungated": len(subj_off), "target_call_ratio": 3.0}),
          flush=True)
    five, _, cpu5, _ = ours(gvideo, 5.0, gate=True)
    video_s = five["frames_processed"] / 5.0  # each processed frame stands for 0.2 s of video
    print(json.dumps({"bench": "cpu_per_camera", "video": gvideo.name, "fps_processed": 5.0,
                      "cpu_s_per_video_s": round(cpu5 / video_s, 3),
                      "cameras_per_core": round(video_s / cpu5, 1) if cpu5 else None}), flush=True)


if __name__ == "__main__":
    main()
