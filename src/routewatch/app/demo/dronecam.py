"""The demo's drone camera: the patrol drone's gimbal camera, rendered from the same ground truth as its tlog.

The patrol quadrotor (scenario: sysid 1, 60 m above the ground) carries a stabilised gimbal camera that
looks ahead along the heading, 40 degrees down (the middle of the view is 72 m ahead). It films from the
scenario's start until the drone leaves the arroyo crossing: the survey lane, the detour at 7.5 m/s, and
the watch from 75 m south of the crossing while the person border-cam sees walks north across the border.
Each frame is projected from the drone's pose at its time (scenario.patrol_pose: the positions and headings
of the tlog's 2 Hz samples, interpolated as a pose reader does) with a pinhole of HFOV_DEG, so routewatch's
own ray-cast of the figure's feet lands on the walker's true position.

The projection is written out here from first principles (camera axes from the earth-frame yaw and the
gimbal pitch) and shares no code with routewatch.geo. The ground is a seamless (periodic) texture, so a
drone flying a kilometre always sees textured ground; the border is drawn as a line on top of it, and the
walker as an upright figure (feet, legs that swing, body, head) projected point by point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from routewatch.app.demo.camera import SPEED_M_S, WALK_FROM_S, WALK_X, WALK_Y0
from routewatch.app.demo.scenario import FRAME, GIMBAL_PITCH_DEG, PATROL_AGL_M, START, patrol_pose
from routewatch.config.cameras import CameraConfig, DroneConfig

NAME = "patrol-cam"
IMG_W, IMG_H = 640, 360
HFOV_DEG = 20.0  # a zoomed view: about 20 px per metre across the view at the walker's range (93 m)
FOCAL = IMG_W / 2 / math.tan(math.radians(HFOV_DEG) / 2)  # square pixels
FPS = 2.0  # what the drone camera processes at the demo's 10x on a busy 2-core machine (5 fps fell behind)
SECONDS = 135.0  # from the scenario's start until the drone has watched the crossing
WALK_SHOWN_FROM_S = 0.0  # the walker comes from the south from the scenario's start (165 m from the border)
PPM = 24.0  # texture pixels per metre (a little finer than the image's own ground resolution)
PERIOD_M = 60.0  # the ground texture repeats every 60 m (seamless)
BORDER_Y = FRAME.xy(-110.98, 31.332496)[1]  # the border line of corridors.geojson, in the scenario's frame
Image = npt.NDArray[np.uint8]
Mat = npt.NDArray[np.float64]


def walker(t_s: float) -> tuple[float, float] | None:
    """The walker's feet at t s after the scenario start: border-cam's walk, with its approach from the south.

    >>> walker(WALK_FROM_S)
    (-320.0, -11.0)
    >>> walker(-1.0) is None
    True
    """
    if t_s < WALK_SHOWN_FROM_S:
        return None
    return WALK_X, WALK_Y0 + SPEED_M_S * (t_s - WALK_FROM_S)


@dataclass(frozen=True, slots=True)
class View:
    """The camera at one instant: the drone's position (m, the scenario's frame) and the camera's axes."""

    x: float
    y: float
    axes: Mat  # rows: forward, right, down unit vectors in north-east-down

    @classmethod
    def at(cls, t_s: float) -> View:
        """The view at t s after the scenario start (the drone's pose as its telemetry gives it)."""
        x, y, heading = patrol_pose(t_s)
        yaw, pitch = math.radians(heading), math.radians(GIMBAL_PITCH_DEG)
        f = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)])
        r = np.array([-math.sin(yaw), math.cos(yaw), 0.0])
        return cls(x, y, np.array([f, r, np.cross(f, r)]))

    def project(self, x: float, y: float, z: float = 0.0) -> tuple[float, float] | None:
        """Image pixel of point (x east, y north, z up in metres); None behind the camera."""
        c = self.axes @ np.array([y - self.y, x - self.x, PATROL_AGL_M - z])
        if c[0] <= 1.0:
            return None
        return IMG_W / 2 + FOCAL * c[1] / c[0], IMG_H / 2 + FOCAL * c[2] / c[0]

    def px_per_m(self, x: float, y: float, z: float = 0.0) -> float:
        """Image pixels per metre (across the line of sight) at a point."""
        return FOCAL / math.dist((self.x, self.y, PATROL_AGL_M), (x, y, z))


def axes(t_s: float) -> Mat:
    """Rows: the camera's forward, right and down unit vectors (north, east, down) at t s."""
    return View.at(t_s).axes


def project(t_s: float, x: float, y: float, z: float = 0.0) -> tuple[float, float] | None:
    """Image pixel of point (x east, y north, z up; metres in the scenario's frame) at t s; None behind the camera."""
    return View.at(t_s).project(x, y, z)


def _homography(view: View) -> Mat:
    """Texture pixel (u east, v south, origin at the scenario frame's (0, PERIOD_M)) -> image pixel."""
    dx, dy = view.x, view.y
    # NED vector from the camera to texture pixel (u, v, 1): north = PERIOD_M - v / PPM - dy, east = u / PPM - dx.
    a = np.array([[0.0, -1.0 / PPM, PERIOD_M - dy], [1.0 / PPM, 0.0, -dx], [0.0, 0.0, PATROL_AGL_M]])
    k = np.array([[IMG_W / 2, FOCAL, 0.0], [IMG_H / 2, 0.0, FOCAL], [1.0, 0.0, 0.0]])
    h: Mat = k @ view.axes @ a
    return h


def _periodic_noise(rng: np.random.Generator, n: int, sigma_px: float) -> npt.NDArray[np.float64]:
    """Gaussian-blurred white noise that tiles seamlessly (blurred in the frequency domain), unit variance."""
    fy, fx = np.fft.fftfreq(n).astype(np.float32), np.fft.rfftfreq(n).astype(np.float32)
    gain = np.exp(-2 * (math.pi * sigma_px) ** 2 * (fy[:, None] ** 2 + fx[None, :] ** 2))
    out = np.fft.irfft2(np.fft.rfft2(rng.standard_normal((n, n), dtype=np.float32)) * gain, s=(n, n))
    return np.asarray((out - out.mean()) / out.std(), dtype=np.float64)


def texture() -> Image:
    """Dry ground seen from above: coarse patches and fine grain, slightly warm, tiling every PERIOD_M."""
    rng = np.random.default_rng(5)
    n = int(PERIOD_M * PPM)
    grey = 0.6 * _periodic_noise(rng, n, 0.8 * PPM) + 0.4 * _periodic_noise(rng, n, 0.1 * PPM)
    base = np.clip(140 + 30 * grey, 60, 220)
    return np.clip(np.stack([base * 0.85, base * 0.97, base * 1.05], axis=-1), 0, 255).astype(np.uint8)


def _line(img: Image, view: View, a: tuple[float, float, float], b: tuple[float, float, float], width_m: float,
          colour: tuple[int, int, int]) -> None:
    """A 3-D segment drawn `width_m` thick (at its distance)."""
    pa, pb = view.project(*a), view.project(*b)
    if pa is None or pb is None:
        return
    thick = max(1, round(width_m * view.px_per_m(*a)))
    cv2.line(img, (round(pa[0]), round(pa[1])), (round(pb[0]), round(pb[1])), colour, thick, cv2.LINE_AA)


def _border(img: Image, view: View) -> None:
    """The border line (red, 0.3 m) where it is near the drone; far away it is out of view anyway."""
    if abs(view.y - BORDER_Y) < 150.0:  # a straight line stays straight: its ends, 60 m either side, suffice
        _line(img, view, (view.x - 60.0, BORDER_Y, 0.0), (view.x + 60.0, BORDER_Y, 0.0), 0.3, (40, 40, 200))


def _person(img: Image, view: View, t_s: float, feet: tuple[float, float]) -> None:
    """An upright walker (legs swinging along the walk, north), projected part by part."""
    x, y = feet
    swing = 0.3 * math.sin(t_s * 2 * math.pi * 0.9)
    skin, shirt, pants = (120, 150, 200), (40, 60, 170), (60, 50, 40)
    _line(img, view, (x - 0.1, y + swing, 0.05), (x - 0.1, y, 0.9), 0.15, pants)
    _line(img, view, (x + 0.1, y - swing, 0.05), (x + 0.1, y, 0.9), 0.15, pants)
    _line(img, view, (x, y, 0.9), (x, y, 1.45), 0.42, shirt)
    _line(img, view, (x - 0.24, y, 1.4), (x - 0.26, y - swing, 0.85), 0.1, shirt)
    _line(img, view, (x + 0.24, y, 1.4), (x + 0.26, y + swing, 0.85), 0.1, shirt)
    _line(img, view, (x, y, 1.55), (x, y, 1.72), 0.22, skin)


def frame_at(t_s: float, ground: Image) -> Image:
    """The camera's image at t s after the scenario start."""
    view = View.at(t_s)
    img = np.asarray(cv2.warpPerspective(ground, _homography(view), (IMG_W, IMG_H), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_WRAP), dtype=np.uint8)
    _border(img, view)
    feet = walker(t_s)
    if feet is not None:
        _person(img, view, t_s, feet)
    return img


def render(path: Path, start_s: float = 0.0, end_s: float = SECONDS) -> Path:
    """Write the drone camera's video (MJPG AVI) from start_s to end_s after the scenario's start.

    The demo films from the start, so the video keeps step with the telemetry replayed beside it; a
    test may render just the watch over the crossing (camera(..., start_s=) must then say so).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    ground = texture()
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (IMG_W, IMG_H))
    for i in range(int((end_s - start_s) * FPS)):
        out.write(frame_at(start_s + i / FPS, ground))
    out.release()
    return path


def camera(video: Path, tlog: Path, *, realtime: bool = True, speed: float = 1.0,
           start_s: float = 0.0) -> CameraConfig:
    """The drone camera's settings: posed by the patrol drone's telemetry (sysid 1 of the scenario tlog);
    `start_s`: the video's first frame, in seconds after the scenario's start."""
    return CameraConfig(name=NAME, kind="drone", start_time=START + timedelta(seconds=start_s), fps=FPS,
                        url=str(video),
                        realtime=realtime, speed=speed, detector={"conf": 0.2, "classes": ["person"]},
                        drone=DroneConfig(hfov_deg=HFOV_DEG, pose_file=tlog, sysid=1))
