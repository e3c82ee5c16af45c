"""The demo's fixed camera: a video rendered from a known ground truth over the border at the arroyo.

A person walks north across the border while the camera watches; without a model, the motion gate
and the tracker find it and the camera's calibration puts it on the map.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np

from routewatch.config.schema import CameraConfig
from routewatch.demo.scenario import FRAME, START

PX_PER_M = 4.0
X0, Y0, W_M, H_M = -380.0, -40.0, 120.0, 80.0  # the watched ground: x, y of its corner and its size
IMG_W, IMG_H = 480, 320
FPS = 5.0
SECONDS = 200.0
WALK_FROM_S, SPEED_M_S, WALK_X = 110.0, 1.4, -320.0
_SRC = np.array([[0, 0], [W_M * PX_PER_M, 0], [W_M * PX_PER_M, H_M * PX_PER_M], [0, H_M * PX_PER_M]],
                dtype=np.float32)
_DST = np.array([[30, 310], [450, 310], [330, 90], [150, 90]], dtype=np.float32)
_H = cv2.getPerspectiveTransform(_SRC, _DST)


def _tex(x: float, y: float) -> tuple[float, float]:
    return (x - X0) * PX_PER_M, (y - Y0) * PX_PER_M


def _pixel(x: float, y: float) -> tuple[float, float]:
    u, v, w = _H @ np.array([*_tex(x, y), 1.0])
    return float(u / w), float(v / w)


def walker(t_s: float) -> tuple[float, float] | None:
    """Where the person is at t seconds after the scenario start (None before they appear)."""
    if t_s < WALK_FROM_S:
        return None
    y = -35.0 + SPEED_M_S * (t_s - WALK_FROM_S)
    return (WALK_X, y) if y < 38.0 else None


def render(path: Path) -> Path:
    """Write the camera's video (MJPG AVI) for the first SECONDS of the scenario."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    ground = cv2.GaussianBlur((rng.random((int(H_M * PX_PER_M), int(W_M * PX_PER_M), 3)) * 120 + 60)
                              .astype(np.uint8), (9, 9), 0)
    bx0, by0 = _tex(X0, 0.0)
    cv2.line(ground, (int(bx0), int(by0)), (int(bx0 + W_M * PX_PER_M), int(by0)), (40, 40, 200), 2)  # the border
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (IMG_W, IMG_H))
    for i in range(int(SECONDS * FPS)):
        g = ground.copy()
        pos = walker(i / FPS)
        if pos is not None:
            (x1, y1), (x2, y2) = _tex(pos[0] - 0.8, pos[1] - 0.8), _tex(pos[0] + 0.8, pos[1] + 0.8)
            cv2.rectangle(g, (int(x1), int(y1)), (int(x2), int(y2)), (235, 235, 235), -1)
        out.write(cv2.warpPerspective(g, _H, (IMG_W, IMG_H)))
    out.release()
    return path


def camera(video: Path, *, realtime: bool = True, speed: float = 1.0) -> CameraConfig:
    """The demo camera's settings: calibration from six ground control points of the known scene."""
    gcps = []
    for x, y in [(-370, -35), (-270, -35), (-280, 35), (-360, 35), (-320, 0), (-300, 20)]:
        u, v = _pixel(x, y)
        lon, lat = FRAME.lonlat(x, y)
        gcps.append((u, v, lon, lat))
    return CameraConfig(name="border-cam", start_time=START + timedelta(0), gcps=gcps, max_error_m=1.0,
                        fps=FPS, url=str(video), realtime=realtime, speed=speed)
