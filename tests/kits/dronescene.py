"""A synthetic drone video and its telemetry, rendered from a known ground truth.

The drone flies north-north-east at 70 m above flat, textured ground, turning slowly, nose down
and rocking a little; a stabilised gimbal (vehicle frame, as ArduPilot reports it) looks ahead
and tilts from -60 to -80 degrees. Two targets move on the ground: a walker heading east-north-
east and a car driving north. The projection here is written out from first principles (camera
axes from the earth-frame yaw and pitch) so it does not share code with routewatch.geo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from pymavlink.dialects.v20 import ardupilotmega as dialect

from routewatch.geo.crs import LocalFrame
from routewatch.ingest.mavlink.writer import TlogWriter

FRAME = LocalFrame(8.5417, 47.3769)
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
HOME_ALT_M = 430.0
AGL_M = 70.0
W, H = 640, 480
HFOV_DEG = 70.0
FOCAL = W / 2 / math.tan(math.radians(HFOV_DEG) / 2)  # square pixels: vfov follows the aspect ratio
PPM = 10.0  # texture pixels per metre
X0, X1, Y0, Y1 = -130.0, 130.0, -110.0, 140.0  # textured ground extent (m)
FPS = 10.0
SECONDS = 20.0
GAP = (16.0, 18.5)  # no telemetry strictly inside this span (s)
TELEMETRY_PHASE_S = 0.05  # telemetry at 0.05 + k / 10 s: between the frames


@dataclass(frozen=True)
class DronePose:
    x: float
    y: float
    heading: float  # deg from north
    pitch: float  # vehicle, deg
    roll: float
    gimbal_yaw: float  # relative to the heading
    gimbal_pitch: float  # relative to the horizon

    @property
    def cam_yaw(self) -> float:
        return self.heading + self.gimbal_yaw


def drone(t: float) -> DronePose:
    heading = 10.0 + 1.0 * t
    return DronePose(0.5 * t, -50.0 + 3.0 * t, heading, -6.0, 3.0 * math.sin(t), 5.0 - heading, -60.0 - 1.0 * t)


@dataclass(frozen=True)
class Target:
    name: str
    size: tuple[float, float]  # east, north extent (m)
    colour: tuple[int, int, int]
    start: tuple[float, float]
    velocity: tuple[float, float]

    def at(self, t: float) -> tuple[float, float]:
        return self.start[0] + self.velocity[0] * t, self.start[1] + self.velocity[1] * t

    def corners(self, t: float) -> list[tuple[float, float]]:
        x, y = self.at(t)
        hx, hy = self.size[0] / 2, self.size[1] / 2
        return [(x - hx, y - hy), (x + hx, y - hy), (x + hx, y + hy), (x - hx, y + hy)]


WALKER = Target("walker", (1.5, 1.5), (235, 235, 235), (-20.0, -5.0), (1.5, 1.4))
CAR = Target("car", (2.0, 4.5), (40, 30, 150), (15.0, -25.0), (0.0, 4.0))
TARGETS = (WALKER, CAR)


def axes(p: DronePose) -> np.ndarray:
    """Rows: the camera's forward, right and down unit vectors in north-east-down."""
    yaw, pitch = math.radians(p.cam_yaw), math.radians(p.gimbal_pitch)
    f = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)])
    r = np.array([-math.sin(yaw), math.cos(yaw), 0.0])
    return np.array([f, r, np.cross(f, r)])


def project(p: DronePose, x: float, y: float) -> tuple[float, float]:
    """Ground point (m) -> image pixel."""
    c = axes(p) @ np.array([y - p.y, x - p.x, AGL_M])
    return W / 2 + FOCAL * c[1] / c[0], H / 2 + FOCAL * c[2] / c[0]


def ground(p: DronePose, u: float, v: float) -> tuple[float, float]:
    """Image pixel -> ground point (m)."""
    ray = axes(p).T @ np.array([1.0, (u - W / 2) / FOCAL, (v - H / 2) / FOCAL])
    s = AGL_M / ray[2]
    return p.x + s * ray[1], p.y + s * ray[0]


def expected_point(target: Target, t: float) -> tuple[float, float]:
    """Where the bottom centre of the target's image box lies on the ground (what the method reports)."""
    p = drone(t)
    px = [project(p, x, y) for x, y in target.corners(t)]
    us, vs = [u for u, _ in px], [v for _, v in px]
    return ground(p, (min(us) + max(us)) / 2, max(vs))


def texture() -> np.ndarray:
    rng = np.random.default_rng(11)
    shape = (int((Y1 - Y0) * PPM), int((X1 - X0) * PPM))
    coarse = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), 25)
    fine = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), 3)
    grey = 0.6 * (coarse - coarse.mean()) / coarse.std() + 0.4 * (fine - fine.mean()) / fine.std()
    base = np.clip(130 + 35 * grey, 50, 210)
    tint = np.stack([base * 0.9, base, base * 1.05], axis=-1)
    return np.clip(tint, 0, 255).astype(np.uint8)


def homography(p: DronePose, scale: float) -> np.ndarray:
    """Texture pixel (u right = east, v down = south) -> image pixel at `scale` times the image size."""
    # NED vector from the camera to texture pixel (u, v, 1): north = Y1 - v / PPM - y, east = X0 + u / PPM - x.
    a = np.array([[0.0, -1.0 / PPM, Y1 - p.y], [1.0 / PPM, 0.0, X0 - p.x], [0.0, 0.0, AGL_M]])
    k = np.array([[W / 2, FOCAL, 0.0], [H / 2, 0.0, FOCAL], [1.0, 0.0, 0.0]])
    return np.diag([scale, scale, 1.0]) @ k @ axes(p) @ a


def render(path: Path, seconds: float = SECONDS) -> None:
    """An MJPG AVI of the scene (supersampled 2x, so the ground texture does not alias)."""
    tex = texture()
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    for i in range(int(seconds * FPS)):
        t = i / FPS
        p = drone(t)
        big = cv2.warpPerspective(tex, homography(p, 2.0), (2 * W, 2 * H), flags=cv2.INTER_LINEAR)
        for target in TARGETS:
            poly = np.array([[2 * c for c in project(p, x, y)] for x, y in target.corners(t)], np.float32)
            cv2.fillConvexPoly(big, np.round(poly * 16).astype(np.int32), target.colour, cv2.LINE_AA, shift=4)
        out.write(cv2.resize(big, (W, H), interpolation=cv2.INTER_AREA))
    out.release()


def _quaternion(yaw: float, pitch: float, roll: float) -> list[float]:
    cy, sy = math.cos(math.radians(yaw) / 2), math.sin(math.radians(yaw) / 2)
    cp, sp = math.cos(math.radians(pitch) / 2), math.sin(math.radians(pitch) / 2)
    cr, sr = math.cos(math.radians(roll) / 2), math.sin(math.radians(roll) / 2)
    return [cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy]


def telemetry(path: Path, seconds: float = SECONDS, vehicle_lag_s: float = 0.0) -> Path:
    """The drone's .tlog at 10 Hz (position, attitude, gimbal), nothing inside GAP; its SYSTEM_TIME
    puts the vehicle's clock vehicle_lag_s behind the tlog's record times."""
    w = TlogWriter(mavlink2=True)
    flags = dialect.GIMBAL_DEVICE_FLAGS_ROLL_LOCK | dialect.GIMBAL_DEVICE_FLAGS_PITCH_LOCK  # ArduPilot 4.3+
    for k in range(-10, int(seconds * 10) + 6):
        t = TELEMETRY_PHASE_S + k / 10.0
        if GAP[0] < t < GAP[1]:
            continue
        at = T0 + timedelta(seconds=t)
        p = drone(t)
        if k % 10 == 0:
            w.heartbeat(at, 1)
            w.gps_raw_int(at, 1, 3, *FRAME.lonlat(p.x, p.y)[::-1], HOME_ALT_M + AGL_M)
            w.system_time(at, 1, at - timedelta(seconds=vehicle_lag_s))
        lon, lat = FRAME.lonlat(p.x, p.y)
        w.global_position_int(at, 1, lat, lon, HOME_ALT_M + AGL_M, AGL_M, hdg_deg=p.heading % 360)
        w.attitude(at, 1, p.roll, p.pitch, (p.heading + 180) % 360 - 180)
        q = _quaternion(p.gimbal_yaw, p.gimbal_pitch, 0.0)
        msg = dialect.MAVLink_gimbal_device_attitude_status_message(
            0, 0, (k + 10) * 100, flags, q, math.nan, math.nan, math.nan, 0)
        w.message(at, 1, msg, compid=dialect.MAV_COMP_ID_GIMBAL)
    return w.write(path)
