"""Motion gating on a fixed camera: detector calls, CPU time and ground-truth tracks with and without the gate.

Usage: .venv/bin/python bench/bench_motion_gate.py [--video PATH] [--idle A:B,...] [--hold-s 80] [--fps 5]

Needs the detect extra and ../shared/data (video, yolo11n OpenVINO int8 model); YOLO_OFFLINE is set.

The scene ("quiet street"). No real clip we hold is mostly static: traffic_topdown.mp4 (a real
residential street, 640x360, 10 fps, 73 s) has cars passing most of the time and only three real
stretches with no moving object: frames 0-26, 195-230 and 655-733 (checked frame by frame with
frame differences and by the ungated detector, which has no moving track there; a car's bonnet
enters at the right edge in frame 27; the bench re-checks the detector part, see `gt_obs_in_idle`).
The benchmark keeps every real frame in its real order and lengthens each of those idle stretches
to `--hold-s` seconds by playing its own real frames forwards and backwards (ping-pong): real sensor
noise, real compression artefacts, real light, and every join is between neighbouring real frames,
so no cut appears. The passages of cars (frames 27-194 and 231-654, 59 s) are untouched. The
result is written once as MJPEG (quality 90, so every frame is recompressed and carries fresh
JPEG noise) at the source frame rate into a temporary file, and both runs read that same file.
With the default 80 s holds the scene is about 310 s long, 81 % of it without a moving object (the
ping-pong ends on a whole pass, so a hold may run a few seconds over): the same cars, about one
every 40 s instead of every 9 s. `ideal_call_ratio` is what a gate that ran the detector on every
frame with a moving object and on no other frame would reach.

Fairness: both runs are routewatch's own `vision.observations` (decode, motion gate, YOLO + ByteTrack,
ground point) on the same file, at the same processing rate (`--fps`, 5 by default, Frigate's
advice: every k-th frame, see `config_fps`), with the same model and classes, in the same process,
one after the other; only `detector.gate` differs. CPU is process time (all threads: OpenVINO's
too). The model is loaded and run once before either run, so neither pays the first-load cost.

Ground truth. No hand labels exist for this footage, so the reference is the ungated run: its
*moving* tracks (ground displacement >= `--min-move-m` between the median of its first and its
last three positions, and at least three observations) are the ground-truth tracks; parked cars
are not. A ground-truth track counts as found by the gated run when a gated track is within
`--match-m` metres of it at the same frame time at least once; coverage is the share of its
observations matched that way. Ground positions come from a plausible made-up calibration (image
bottom 10 m away, top 60 m, 40 m wide), the same as bench_vision.py.

Prints JSON lines: `motion_gate` for the scene (and, unless --no-raw, for the untouched real video,
which shows what gating saves on a busy street), each with detector calls gated/ungated and their
ratio (target >= 3 on the scene), CPU seconds, cpu per second of video and cameras per core (at
`--fps`), frames processed, tracks found and ground-truth matches.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import cv2
import numpy as np

from routewatch.cameras.fixed import calibrate, observations
from routewatch.config.cameras import CameraConfig
from routewatch.geo.crs import LocalFrame

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODEL = SHARED / "models" / "yolo11n_int8_openvino_model"
VIDEO = SHARED / "video" / "traffic_topdown.mp4"
IDLE = "0:27,195:231,655:734"  # traffic_topdown.mp4's real stretches with no moving object (end exclusive)
CLASSES = ["person", "bicycle", "car", "truck", "bus", "motorcycle"]
T0 = datetime(2026, 5, 1, tzinfo=UTC)
FRAME = LocalFrame(10.0, 50.0)

Track = list[tuple[datetime, float, float]]  # (frame time, x m, y m)


def parse_idle(text: str) -> list[tuple[int, int]]:
    """'0:29,200:232' -> [(0, 29), (200, 232)]: frame windows [start, end) with no moving object."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        if not (a.strip().isdigit() and b.strip().isdigit()) or int(b) - int(a) < 2:
            raise SystemExit(f"--idle: {part!r} is not START:END with END >= START + 2 (frame numbers)")
        out.append((int(a), int(b)))
    if any(b1 > a2 for (_, b1), (a2, _) in itertools.pairwise(out)):
        raise SystemExit("--idle: windows must be in order and not overlap")
    return out


def pingpong(a: int, b: int, n_min: int) -> list[int]:
    """Frames a..b-1 played forwards, then backwards and forwards again until >= n_min; ends on b-1.

    >>> pingpong(0, 3, 7)
    [0, 1, 2, 1, 0, 1, 2]
    """
    seq = list(range(a, b))
    back, fwd = list(range(b - 2, a - 1, -1)), list(range(a + 1, b))
    while len(seq) < n_min:
        seq += back + fwd
    return seq


@dataclass(frozen=True)
class Scene:
    path: Path
    frames: int
    idle_frames: int
    fps: float
    idle_times: tuple[tuple[float, float], ...]  # seconds, [start, end) of each lengthened idle stretch


def build_scene(src: Path, idle: list[tuple[int, int]], hold_s: float, out: Path) -> Scene:
    """Write the quiet-street scene (see the module docstring) to `out` (MJPEG .avi)."""
    cap = cv2.VideoCapture(str(src))
    if not cap.isOpened():
        raise SystemExit(f"cannot open video {src}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    if not frames or idle[-1][1] > len(frames):
        raise SystemExit(f"--idle reaches frame {idle[-1][1]} but {src.name} has {len(frames)} frames")
    plan: list[int] = []
    idle_spans = []
    pos = 0
    for a, b in idle:
        plan += range(pos, a)
        start = len(plan)
        plan += pingpong(a, b, round(hold_s * fps))
        idle_spans.append((start / fps, len(plan) / fps))
        pos = b
    plan += range(pos, len(frames))
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 90)
    for i in plan:
        writer.write(frames[i])
    writer.release()
    idle_n = sum(round((e - s) * fps) for s, e in idle_spans)
    return Scene(out, len(plan), idle_n, fps, tuple(idle_spans))


def camera(path: Path, fps: float, gate: bool) -> CameraConfig:
    cap = cv2.VideoCapture(str(path))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    # A plausible ground plane: the image bottom is 10 m away, the top 60 m, 40 m wide (as bench_vision.py).
    pts = [(0, h, -20, 10), (w, h, 20, 10), (w * 0.8, 0, 20, 60), (w * 0.2, 0, -20, 60)]
    gcps = [(u, v, *FRAME.lonlat(x, y)) for u, v, x, y in pts]
    return CameraConfig(name="bench", start_time=T0, gcps=gcps, fps=fps, max_error_m=5.0,
                        detector={"model": str(MODEL), "gate": gate, "classes": CLASSES})


@dataclass(frozen=True)
class Run:
    counts: Counter[str]
    cpu_s: float
    wall_s: float
    tracks: dict[str, Track]


def run(path: Path, fps: float, gate: bool) -> Run:
    """routewatch's vision path over the file; tracks as ground positions per subject."""
    cam = camera(path, fps, gate)
    calib = calibrate(cam)
    counts: Counter[str] = Counter()
    tracks: dict[str, Track] = defaultdict(list)
    t, c = time.perf_counter(), time.process_time()
    for obs in observations(path, cam, calib, counts):
        tracks[obs.subject_id].append((obs.time, *FRAME.xy(obs.lon, obs.lat)))
    return Run(counts, time.process_time() - c, time.perf_counter() - t, dict(tracks))


def moving(track: Track, min_move_m: float) -> bool:
    """Whether a track went somewhere: parked cars jitter by a metre or so, passing cars cross the street."""
    if len(track) < 3:
        return False
    head, tail = track[:3], track[-3:]
    x0, y0 = median(p[1] for p in head), median(p[2] for p in head)
    x1, y1 = median(p[1] for p in tail), median(p[2] for p in tail)
    return math.hypot(x1 - x0, y1 - y0) >= min_move_m


def coverage(gt: Track, others: dict[str, Track], match_m: float) -> float:
    """Share of a ground-truth track's observations with an observation of `others` within match_m."""
    at: dict[datetime, list[tuple[float, float]]] = defaultdict(list)
    for tr in others.values():
        for tm, x, y in tr:
            at[tm].append((x, y))
    hit = sum(1 for tm, x, y in gt if any(math.hypot(x - u, y - v) <= match_m for u, v in at.get(tm, ())))
    return hit / len(gt)


def config_fps(rate: float, src_fps: float) -> float:
    """The camera `fps` that makes vision.observations process every k-th frame, k = round(src_fps / rate).

    It skips frames closer than 1/fps to the last one processed, so asking 5 from a 10.04 fps file would
    process every third frame (3.3 fps); 1/fps half a frame short of k frames absorbs the timing jitter.

    >>> round(config_fps(5.0, 10.04), 2), round(config_fps(10.0, 10.04), 2)
    (6.69, 20.08)
    """
    k = max(1, round(src_fps / rate))
    return src_fps / (k - 0.5)


def compare(name: str, path: Path, rate: float, src_fps: float, a: argparse.Namespace,
            idle_times: tuple[tuple[float, float], ...] = ()) -> dict[str, Any]:
    fps = config_fps(rate, src_fps)
    off = run(path, fps, gate=False)
    on = run(path, fps, gate=True)
    gt = {sid: tr for sid, tr in off.tracks.items() if moving(tr, a.min_move_m)}
    cov = {sid: coverage(tr, on.tracks, a.match_m) for sid, tr in gt.items()}
    frames = off.counts["frames_processed"]
    video_s = (off.counts["frames_processed"] + off.counts["frames_skipped"]) / src_fps

    def in_idle(tm: datetime) -> bool:
        s = (tm - T0).total_seconds()
        return any(lo <= s < hi for lo, hi in idle_times)

    idle_frac = sum(hi - lo for lo, hi in idle_times) / video_s
    calls_on, calls_off = on.counts["detector_calls"], off.counts["detector_calls"]
    return {
        "bench": "motion_gate", "scene": name, "video": path.name,
        "fps_processed": round(frames / video_s, 2),
        "video_s": round(video_s, 1), "frames_processed": frames,
        "detector_calls_ungated": calls_off, "detector_calls_gated": calls_on,
        "call_ratio": round(calls_off / max(1, calls_on), 2), "target_call_ratio": 3.0,
        "cpu_s_ungated": round(off.cpu_s, 2), "cpu_s_gated": round(on.cpu_s, 2),
        "cpu_ratio": round(off.cpu_s / on.cpu_s, 2) if on.cpu_s else None,
        "cameras_per_core_ungated": round(video_s / off.cpu_s, 2) if off.cpu_s else None,
        "cameras_per_core_gated": round(video_s / on.cpu_s, 2) if on.cpu_s else None,
        "tracks_ungated": len(off.tracks), "tracks_gated": len(on.tracks),
        "moving_tracks_gated": sum(moving(tr, a.min_move_m) for tr in on.tracks.values()),
        "gt_tracks": len(gt), "gt_found_gated": sum(c > 0 for c in cov.values()),
        "gt_missed_gated": sorted(sid for sid, c in cov.items() if c == 0),
        "gt_coverage_gated": round(sum(c * len(gt[s]) for s, c in cov.items()) / max(1, sum(map(len, gt.values()))),
                                   3),
        "gt_obs_in_idle": sum(in_idle(tm) for tr in gt.values() for tm, _, _ in tr) if idle_times else None,
        "idle_frac": round(idle_frac, 3) if idle_times else None,
        "ideal_call_ratio": round(1 / (1 - idle_frac), 2) if idle_times else None,
        "wall_s_ungated": round(off.wall_s, 1), "wall_s_gated": round(on.wall_s, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=VIDEO, help="source video (default: traffic_topdown.mp4)")
    ap.add_argument("--idle", default=IDLE, help="frame windows START:END,... of the source with no moving object")
    ap.add_argument("--hold-s", type=float, default=80.0, help="length each idle window is played out to (s)")
    ap.add_argument("--fps", type=float, default=5.0, help="frames processed per second of video (every k-th frame)")
    ap.add_argument("--min-move-m", type=float, default=5.0, help="ground displacement that makes a track moving")
    ap.add_argument("--match-m", type=float, default=2.0, help="distance for a gated track to match one of truth")
    ap.add_argument("--keep-scene", type=Path, help="also keep the assembled scene at this path (.avi)")
    ap.add_argument("--no-raw", action="store_true", help="skip the comparison on the untouched source video")
    a = ap.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    if not a.video.is_file() or not MODEL.is_dir():
        raise SystemExit(f"needs {a.video} and {MODEL} (../shared/data)")
    if not 0 < a.fps <= 60 or a.hold_s < 0:
        raise SystemExit("--fps must be in (0, 60] and --hold-s >= 0")
    from routewatch.cameras.detector import YoloTracker

    YoloTracker(str(MODEL), classes=CLASSES).update(np.zeros((360, 640, 3), np.uint8))  # load libraries once
    with tempfile.TemporaryDirectory() as tmp:
        out = a.keep_scene or Path(tmp) / "quiet_street.avi"
        scene = build_scene(a.video, parse_idle(a.idle), a.hold_s, out)
        print(json.dumps(compare("quiet_street", scene.path, a.fps, scene.fps, a, scene.idle_times)), flush=True)
    if not a.no_raw:
        src_fps = cv2.VideoCapture(str(a.video)).get(cv2.CAP_PROP_FPS) or 10.0
        print(json.dumps(compare("real_unmodified", a.video, a.fps, src_fps, a)), flush=True)


if __name__ == "__main__":
    main()
