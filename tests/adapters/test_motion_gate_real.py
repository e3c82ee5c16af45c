"""Motion gating with the real detector on real street video: parked cars must not keep the detector on."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import cv2
import pytest

from routewatch.config.cameras import CameraConfig
from routewatch.geo.crs import LocalFrame

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
FRAME = LocalFrame(10.0, 50.0)
# traffic_topdown.mp4 frames 560-733: a still street with parked cars, one car driving through
# (about frames 585-650), then 8 s with nothing moving but the parked cars still in view.
FIRST, LAST, STILL_FROM = 560, 733, 655


@pytest.fixture
def clip(shared_data, openvino_model, tmp_path, monkeypatch) -> tuple[Path, str]:
    model = Path(openvino_model)
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    cap = cv2.VideoCapture(str(shared_data / "video" / "traffic_topdown.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS)
    out = cv2.VideoWriter(str(tmp_path / "street.avi"), cv2.VideoWriter_fourcc(*"MJPG"), fps / 2, (640, 360))
    i = 0
    while (ok_img := cap.read())[0]:
        if FIRST <= i <= LAST and i % 2 == 0:  # 5 fps, as a camera would be processed
            out.write(ok_img[1])
        i += 1
    cap.release()
    out.release()
    return tmp_path / "street.avi", str(model)


def camera(model: str, gate: bool) -> CameraConfig:
    # A plausible ground plane (image bottom 10 m away, top 60 m, 40 m wide); fps above the clip's: every frame.
    pts = [(0, 360, -20, 10), (640, 360, 20, 10), (512, 0, 20, 60), (128, 0, -20, 60)]
    return CameraConfig(name="street", start_time=T0, fps=20, max_error_m=5.0,
                        gcps=[(u, v, *FRAME.lonlat(x, y)) for u, v, x, y in pts],
                        detector={"model": model, "gate": gate, "classes": ["car", "truck", "bus"]})


def run(path: Path, model: str, gate: bool) -> tuple[Counter[str], dict[str, list[tuple[float, float, float]]]]:
    from routewatch.cameras.fixed import calibrate, observations

    cam = camera(model, gate)
    counts: Counter[str] = Counter()
    tracks: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for o in observations(path, cam, calibrate(cam), counts):
        tracks[o.subject_id].append(((o.time - T0).total_seconds(), *FRAME.xy(o.lon, o.lat)))
    return counts, tracks


def travelled(track: list[tuple[float, float, float]]) -> float:
    return math.hypot(track[-1][1] - track[0][1], track[-1][2] - track[0][2])


def test_the_gate_skips_a_still_street_with_parked_cars_and_keeps_the_passing_car(clip):
    path, model = clip
    on, gated = run(path, model, gate=True)
    off, ungated = run(path, model, gate=False)
    n = (LAST - FIRST) // 2 + 1
    assert on["frames_processed"] == off["frames_processed"] == off["detector_calls"] == n
    assert on["detector_calls"] + on["detector_skipped"] == n
    # Parked cars are tracked in every frame the detector runs, yet the still tail (39 frames at 5 fps)
    # is mostly skipped: only moving tracks keep the detector on (plus the 2 s grace after the car leaves).
    still = (LAST - STILL_FROM) // 2
    assert on["detector_skipped"] >= still - 15, on
    # The car that drives through is found by both runs, as one track going at least 15 m.
    assert any(travelled(t) > 15 for t in ungated.values())
    assert any(travelled(t) > 15 for t in gated.values())
    # ...and the parked cars are still seen by the gated run while it looks.
    assert sum(1 for t in gated.values() if len(t) >= 5 and travelled(t) < 2) >= 2
