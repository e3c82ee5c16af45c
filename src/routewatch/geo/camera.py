"""Georeferencing an airborne camera: line of sight from pose and gimbal angles, cast onto the ground.

Angles follow MISB ST 0601: the platform's heading, pitch and roll are Euler angles applied in
that order (z-y-x, aircraft body axes forward/right/down); the sensor's relative azimuth,
elevation and roll are a second z-y-x rotation relative to the platform. The ray is built in a
local north-east-down frame at the sensor and its ground offset mapped to lon/lat geodesically.
Image axes: u to the right, v down, so (-1, -1) is ST 0601's corner 1 (top left). The sensor
altitude and the ground elevation must share a datum (ST 0601 tags 15 and 25 are both MSL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyproj

from routewatch.model import CameraPose

FloatArray = npt.NDArray[np.float64]
Vec3 = tuple[float, float, float]
_GEOD = pyproj.Geod(ellps="WGS84")


def _zyx(yaw_deg: float, pitch_deg: float, roll_deg: float) -> FloatArray:
    """Rotation taking body axes (forward, right, down) to the parent frame for z-y-x Euler angles."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    cy, sy, cp, sp, cr, sr = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    rot: FloatArray = rz @ ry @ rx
    return rot


def camera_to_ned(pose: CameraPose) -> FloatArray:
    """Rotation from camera axes (boresight, image right, image down) to north-east-down."""
    platform = _zyx(pose.heading_deg, pose.pitch_deg, pose.roll_deg)
    rot: FloatArray = platform @ _zyx(pose.az_deg, pose.el_deg, pose.sensor_roll_deg)
    return rot


def ray_ned(pose: CameraPose, u: float = 0.0, v: float = 0.0, hfov_deg: float = 0.0,
            vfov_deg: float = 0.0) -> Vec3:
    """Unit ray (north, east, down) through normalised image point (u right, v down, both in [-1, 1]).

    >>> n, e, d = ray_ned(CameraPose(0.0, 0.0, 100.0, el_deg=-90.0))
    >>> round(n, 9), round(e, 9), round(d, 9)
    (0.0, 0.0, 1.0)
    """
    cam = np.array([1.0, u * math.tan(math.radians(hfov_deg) / 2.0), v * math.tan(math.radians(vfov_deg) / 2.0)])
    ned = camera_to_ned(pose) @ (cam / np.linalg.norm(cam))
    return float(ned[0]), float(ned[1]), float(ned[2])


def ground_offset_m(pose: CameraPose, ray: Vec3, ground_elev_m: float,
                    curved: bool = False) -> tuple[float, float] | None:
    """(north, east) metres along the ground to where the ray meets it; None if it never does.

    Flat ground by default; curved=True uses a sphere of the ellipsoid's radius along the ray's
    azimuth, which matters at slant ranges of tens of kilometres (a 20 km range drops ~30 m).

    >>> ground_offset_m(CameraPose(0.0, 0.0, 100.0), (1.0, 0.0, 1.0), 0.0)
    (100.0, 0.0)
    """
    north, east, down = ray
    height = pose.alt_m - ground_elev_m
    horizontal = math.hypot(north, east)
    if height <= 0.0 or (down <= 1e-9 and not curved):
        return None
    if not curved:
        t = height / down
        return north * t, east * t
    radius = _radius_along(pose.lat, math.atan2(east, north))
    # Camera at (0, radius + height) above the sphere's centre, ray (horizontal, -down).
    b = (radius + height) * -down
    disc = b * b - (radius + height) ** 2 + radius**2
    if disc < 0.0 or -b - math.sqrt(disc) < 0.0:
        return None
    t = -b - math.sqrt(disc)
    arc = radius * math.atan2(horizontal * t, radius + height - down * t)
    if horizontal == 0.0:
        return 0.0, 0.0
    return north / horizontal * arc, east / horizontal * arc


def _radius_along(lat_deg: float, azimuth_rad: float) -> float:
    """Euler radius of curvature of the WGS84 ellipsoid at a latitude along an azimuth."""
    a, f = 6378137.0, 1.0 / 298.257223563
    e2 = f * (2.0 - f)
    w = 1.0 - e2 * math.sin(math.radians(lat_deg)) ** 2
    meridian, normal = a * (1.0 - e2) / math.pow(w, 1.5), a / math.sqrt(w)
    return 1.0 / (math.cos(azimuth_rad) ** 2 / meridian + math.sin(azimuth_rad) ** 2 / normal)


def intersect_ground(pose: CameraPose, ray: Vec3, ground_elev_m: float,
                     curved: bool = False, max_range_m: float = math.inf) -> tuple[float, float] | None:
    """(lon, lat) where a north-east-down ray from the sensor meets the ground at ground_elev_m.

    None when it does not, or meets it further than max_range_m away: just below the horizon a
    pixel spans kilometres, so a detection there says little about where the object is.
    """
    offset = ground_offset_m(pose, ray, ground_elev_m, curved)
    if offset is None:
        return None
    north, east = offset
    dist = math.hypot(north, east)
    if dist > max_range_m:
        return None
    if dist == 0.0:
        return pose.lon, pose.lat
    lon, lat, _ = _GEOD.fwd(pose.lon, pose.lat, math.degrees(math.atan2(east, north)), dist)
    return float(lon), float(lat)


def frame_centre(pose: CameraPose, ground_elev_m: float, curved: bool = False) -> tuple[float, float] | None:
    """(lon, lat) where the boresight meets flat ground at ground_elev_m; None above the horizon.

    >>> lon, lat = frame_centre(CameraPose(45.0, 7.0, 1000.0, el_deg=-90.0), 0.0)
    >>> round(lon, 9), round(lat, 9)
    (7.0, 45.0)
    >>> frame_centre(CameraPose(45.0, 7.0, 1000.0, el_deg=5.0), 0.0) is None
    True
    """
    return intersect_ground(pose, ray_ned(pose), ground_elev_m, curved)


def pixel_to_ground(pose: CameraPose, u: float, v: float, hfov_deg: float, vfov_deg: float,
                    ground_elev_m: float, curved: bool = False) -> tuple[float, float] | None:
    """(lon, lat) seen at normalised image point (u, v) of a pinhole camera; None above the horizon.

    >>> p = CameraPose(0.0, 0.0, 100.0, el_deg=-90.0)
    >>> lon, lat = pixel_to_ground(p, 1.0, 0.0, 90.0, 60.0, 0.0)  # right edge, camera looking down
    >>> round(lon * 111_319.49, 1), abs(lat) < 1e-12
    (100.0, True)
    """
    return intersect_ground(pose, ray_ned(pose, u, v, hfov_deg, vfov_deg), ground_elev_m, curved)


def pixel_to_normalised(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """Pixel coordinates (origin top-left, pixel centres at +0.5) to normalised (u, v) in [-1, 1].

    >>> pixel_to_normalised(0.0, 0.0, 640, 480), pixel_to_normalised(320.0, 240.0, 640, 480)
    ((-1.0, -1.0), (0.0, 0.0))
    """
    return 2.0 * x / width - 1.0, 2.0 * y / height - 1.0


def rotation_zyx(yaw_deg: float, pitch_deg: float, roll_deg: float) -> FloatArray:
    """Rotation matrix of z-y-x Euler angles (the convention of CameraPose and MAVLink attitudes)."""
    return _zyx(yaw_deg, pitch_deg, roll_deg)


def euler_zyx(rot: FloatArray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation matrix; inverse of rotation_zyx.

    Looking straight up or down (|pitch| = 90) only yaw minus or plus roll is defined: roll is
    then 0 and yaw takes it all, so nadir samples decompose alike and interpolate smoothly.

    >>> [round(a, 6) + 0.0 for a in euler_zyx(rotation_zyx(30.0, -40.0, 10.0))]
    [30.0, -40.0, 10.0]
    >>> [round(a, 6) + 0.0 for a in euler_zyx(rotation_zyx(30.0, -90.0, 10.0))]
    [40.0, -90.0, 0.0]
    """
    s = -float(rot[2, 0])
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, s))))
    if abs(s) > 1.0 - 1e-9:
        # R = Rz(yaw) Ry(+-90): the top-left 2x2 block carries yaw -/+ roll only.
        return math.degrees(math.atan2(-float(rot[0, 1]), float(rot[1, 1]))), pitch, 0.0
    yaw = math.degrees(math.atan2(float(rot[1, 0]), float(rot[0, 0])))
    roll = math.degrees(math.atan2(float(rot[2, 1]), float(rot[2, 2])))
    return yaw, pitch, roll


def quaternion_matrix(w: float, x: float, y: float, z: float) -> FloatArray:
    """Rotation matrix of a (w, x, y, z) quaternion (Hamilton, as MAVLink sends it), normalised.

    >>> [round(a, 6) + 0.0 for a in euler_zyx(quaternion_matrix(math.cos(math.pi / 4), 0.0,
    ...                                                          -math.sin(math.pi / 4), 0.0))]
    [0.0, -90.0, 0.0]
    """
    n = math.sqrt(w * w + x * x + y * y + z * z)
    if not math.isfinite(n) or n < 0.5 or n > 1.5:  # float32 senders are close to 1; far off is garbage
        raise ValueError(f"not a rotation quaternion: ({w}, {x}, {y}, {z})")
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


@dataclass(frozen=True, slots=True)
class Pinhole:
    """An undistorted pinhole camera in pixels: focal lengths and principal point (origin top left).

    >>> cam = Pinhole.from_fov(640, 480, 90.0)
    >>> round(cam.fx, 9), cam.cx, round(cam.vfov_deg, 3)
    (320.0, 320.0, 73.74)
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width} x {self.height}")
        if not all(math.isfinite(v) for v in (self.fx, self.fy, self.cx, self.cy)) or self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"focal lengths must be finite and positive, got fx={self.fx}, fy={self.fy}")

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float, vfov_deg: float | None = None) -> Pinhole:
        """From fields of view in degrees; no vfov means square pixels (vfov follows the aspect ratio)."""
        for name, fov in (("hfov_deg", hfov_deg), ("vfov_deg", vfov_deg)):
            if fov is not None and not 0.0 < fov < 180.0:
                raise ValueError(f"{name} must be in (0, 180), got {fov}")
        fx = width / 2.0 / math.tan(math.radians(hfov_deg) / 2.0)
        fy = fx if vfov_deg is None else height / 2.0 / math.tan(math.radians(vfov_deg) / 2.0)
        return cls(width, height, fx, fy, width / 2.0, height / 2.0)

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view (for a centred principal point)."""
        return math.degrees(2.0 * math.atan(self.width / 2.0 / self.fx))

    @property
    def vfov_deg(self) -> float:
        """Vertical field of view (for a centred principal point)."""
        return math.degrees(2.0 * math.atan(self.height / 2.0 / self.fy))

    def ray_ned(self, pose: CameraPose, x: float, y: float) -> Vec3:
        """Unit ray (north, east, down) through pixel (x, y)."""
        cam = np.array([1.0, (x - self.cx) / self.fx, (y - self.cy) / self.fy])
        ned = camera_to_ned(pose) @ (cam / np.linalg.norm(cam))
        return float(ned[0]), float(ned[1]), float(ned[2])

    def to_ground(self, pose: CameraPose, x: float, y: float, ground_elev_m: float,
                  max_range_m: float = math.inf) -> tuple[float, float] | None:
        """(lon, lat) seen at pixel (x, y) on flat ground at ground_elev_m; None at or above the horizon
        or beyond max_range_m along the ground.

        >>> cam = Pinhole.from_fov(640, 480, 90.0)
        >>> lon, lat = cam.to_ground(CameraPose(0.0, 0.0, 100.0, el_deg=-90.0), 640.0, 240.0, 0.0)
        >>> round(lon * 111_319.49, 1), abs(lat) < 1e-12
        (100.0, True)
        """
        return intersect_ground(pose, self.ray_ned(pose, x, y), ground_elev_m, max_range_m=max_range_m)
