"""The demo's fixed camera: a video rendered from a known ground truth over the border at the arroyo.

The camera looks east along the border from the arroyo's west bank; a person walks north across the
border through its view. Without a model, the motion gate and the tracker find the figure; with a
COCO-trained YOLO model (`routewatch demo --model ...`), the detector sees a person. Either way the
camera's calibration puts its feet on the map.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from routewatch.app.demo.scenario import FRAME, START
from routewatch.config.cameras import CameraConfig

PX_PER_M = 16.0
X0, X1 = -336.0, -306.0  # the watched ground, west (near) to east (far)
Y0, Y1 = -11.0, 11.0  # south to north; north is on the image's left when looking east
IMG_W, IMG_H = 640, 360
FPS = 5.0
SECONDS = 200.0
WALK_FROM_S, SPEED_M_S, WALK_X, WALK_Y0 = 110.0, 1.4, -320.0, -11.0
PERSON_M = 1.75
_TEX_W, _TEX_H = int((Y1 - Y0) * PX_PER_M), int((X1 - X0) * PX_PER_M)
_SRC = np.array([[0, 0], [_TEX_W, 0], [_TEX_W, _TEX_H], [0, _TEX_H]], dtype=np.float32)
_DST = np.array([[-110, 400], [750, 400], [610, 40], [30, 40]], dtype=np.float32)
_H = cv2.getPerspectiveTransform(_SRC, _DST)
Image = npt.NDArray[np.uint8]


def _tex(x: float, y: float) -> tuple[float, float]:
    """Ground metres -> texture pixels: columns run north to south, rows from the near edge."""
    return (Y1 - y) * PX_PER_M, (x - X0) * PX_PER_M


def pixel(x: float, y: float) -> tuple[float, float]:
    """Where ground point (x, y) of the scenario's frame is in the image."""
    u, v, w = _H @ np.array([*_tex(x, y), 1.0])
    return float(u / w), float(v / w)


def walker(t_s: float) -> tuple[float, float] | None:
    """Where the person's feet are at t seconds after the scenario start (None while out of view)."""
    if t_s < WALK_FROM_S:
        return None
    y = WALK_Y0 + SPEED_M_S * (t_s - WALK_FROM_S)
    return (WALK_X, y) if y <= Y1 else None


def _person(img: Image, feet: tuple[float, float], height_px: float, phase: float) -> None:
    """An upright figure (head, shirt, arms and legs that swing) standing at `feet`."""
    x, y, s = feet[0], feet[1], height_px / 170.0
    skin, shirt, pants = (120, 150, 200), (40, 60, 170), (60, 50, 40)
    head_r = 11 * s
    top = y - height_px
    swing = 20 * s * math.sin(phase)

    def p(dx: float, v: float) -> tuple[int, int]:  # dx from the feet, v an image row
        return round(x + dx), round(v)

    cv2.circle(img, p(0, top + head_r), max(2, round(head_r)), skin, -1)
    cv2.rectangle(img, p(-14 * s, top + 2 * head_r), p(14 * s, y - 80 * s), shirt, -1)
    arm, leg = max(2, round(8 * s)), max(2, round(11 * s))
    cv2.line(img, p(-14 * s, top + 2 * head_r + 5 * s), p(-18 * s - swing, y - 85 * s), shirt, arm)
    cv2.line(img, p(14 * s, top + 2 * head_r + 5 * s), p(18 * s + swing, y - 85 * s), shirt, arm)
    cv2.line(img, p(-7 * s, y - 80 * s), p(-7 * s - swing, y), pants, leg)
    cv2.line(img, p(7 * s, y - 80 * s), p(7 * s + swing, y), pants, leg)


def render(path: Path) -> Path:
    """Write the camera's video (MJPG AVI) for the first SECONDS of the scenario."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    ground = cv2.GaussianBlur((rng.random((_TEX_H, _TEX_W, 3)) * 110 + 70).astype(np.uint8), (9, 9), 0)
    bx, _ = _tex(X0, 0.0)
    cv2.line(ground, (int(bx), 0), (int(bx), _TEX_H), (40, 40, 200), 3)  # the border, running east
    scene: Image = np.asarray(cv2.warpPerspective(ground, _H, (IMG_W, IMG_H), borderValue=(150, 120, 90)),
                              dtype=np.uint8)  # sky (the border value) above the horizon
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (IMG_W, IMG_H))
    for i in range(int(SECONDS * FPS)):
        frame = scene.copy()
        t = i / FPS
        pos = walker(t)
        if pos is not None:
            feet = pixel(*pos)
            across = math.dist(pixel(pos[0], pos[1] - 0.5), pixel(pos[0], pos[1] + 0.5))  # px per metre here
            _person(frame, feet, PERSON_M * across, phase=t * 2 * math.pi * 0.9)
        out.write(frame)
    out.release()
    return path


def camera(video: Path, *, realtime: bool = True, speed: float = 1.0) -> CameraConfig:
    """The demo camera's settings: calibration from six ground control points of the known scene."""
    gcps = []
    for x, y in [(-333, -6), (-333, 6), (-310, -9), (-310, 9), (-320, 0), (-325, 4)]:
        u, v = pixel(x, y)
        lon, lat = FRAME.lonlat(x, y)
        gcps.append((u, v, lon, lat))
    # A drawn figure scores lower than a real person: the detector's threshold is lowered to match.
    return CameraConfig(name="border-cam", start_time=START + timedelta(0), gcps=gcps, max_error_m=1.0,
                        fps=FPS, url=str(video), realtime=realtime, speed=speed,
                        detector={"conf": 0.2, "classes": ["person"]})
