"""A camera's ground footprint: the part of flat ground its image shows, and footprints over time. Pure.

A footprint is the set of ground points whose pixel lies inside the image and in front of the
camera. For a fixed camera (a pixel -> ground homography) and for a pinhole camera at a known
pose both conditions are half-planes on the ground, so the footprint is a convex polygon: the
intersection of those half-planes with a disc of `max_range_m` (rays near the horizon meet the
ground arbitrarily far away; nothing that far is seen usefully). Above the horizon nothing is
ground, so a camera looking at the sky has an empty footprint.

`FootprintSampler` turns per-frame footprints into a few rows: one per continuous stretch of
frames while the footprint stays put (a fixed camera), a new one every `sample_s` or when the
footprint moves by more than `move_m` (a drone camera).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from routewatch.geo.camera import Pinhole, camera_to_ned
from routewatch.geo.crs import LocalFrame
from routewatch.geo.homography import Calibration
from routewatch.model import CameraPose

FloatArray = npt.NDArray[np.float64]
_GEOD = pyproj.Geod(ellps="WGS84")
DISC_SEGMENTS = 64
EMPTY = Polygon()
# Metres per degree, for comparing nearby footprints (a few metres' accuracy is plenty there).
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0


@dataclass(frozen=True, slots=True)
class Footprint:
    """What `camera` saw on the ground (lon/lat `polygon`) from `start` until `end` (exclusive).

    `kind` is "fixed" or "drone".
    """

    camera: str
    start: datetime
    end: datetime
    polygon: BaseGeometry
    kind: str = "fixed"


def _clip(points: FloatArray, planes: FloatArray) -> FloatArray:
    """Clip a convex polygon (n x 2, open ring) to the half-planes a*x + b*y + c >= 0 (Sutherland-Hodgman)."""
    for a, b, c in planes:
        if len(points) == 0:
            break
        norm = math.hypot(a, b)
        if norm == 0.0:  # a constant: all kept or none
            if c < 0:
                return np.empty((0, 2))
            continue
        d = (points @ np.array([a, b]) + c) / norm
        keep = d >= 0.0
        out: list[FloatArray] = []
        n = len(points)
        for i in range(n):
            j = (i + 1) % n
            if keep[i]:
                out.append(points[i])
            if keep[i] != keep[j]:
                t = d[i] / (d[i] - d[j])
                out.append(points[i] + t * (points[j] - points[i]))
        points = np.array(out) if out else np.empty((0, 2))
    return points


def _disc(cx: float, cy: float, radius: float, segments: int = DISC_SEGMENTS) -> FloatArray:
    a = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)
    return np.column_stack([cx + radius * np.cos(a), cy + radius * np.sin(a)])


def _polygon(points: FloatArray) -> Polygon:
    """A polygon of clipped points, empty when they enclose no area."""
    if len(points) < 3:
        return EMPTY
    poly = Polygon(points)
    return poly if poly.is_valid and poly.area > 1e-6 else EMPTY


def _check_range(max_range_m: float) -> None:
    if not (math.isfinite(max_range_m) and max_range_m > 0):
        raise ValueError(f"max_range_m must be a positive number of metres, got {max_range_m}")


def fixed_footprint(calib: Calibration, width: int, height: int, max_range_m: float) -> BaseGeometry:
    """The lon/lat ground polygon a fixed camera's `width` x `height` image shows, at most `max_range_m`
    from the nearest ground it sees (the bottom centre of the image); empty when all is above the horizon.

    >>> from routewatch.geo.homography import GroundControlPoint
    >>> f = LocalFrame(23.5, 17.2)
    >>> g = [GroundControlPoint(u, v, *f.lonlat(x, y)) for u, v, x, y in
    ...      [(0, 100, 0, 0), (100, 100, 10, 0), (100, 0, 10, 10), (0, 0, 0, 10)]]
    >>> poly = fixed_footprint(Calibration.from_gcps(g), 100, 100, 1000.0)
    >>> round(f.to_local(poly).area, 3)  # the camera looks straight down at a 10 m square
    100.0
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width} x {height}")
    _check_range(max_range_m)
    h = np.asarray(calib.homography, dtype=np.float64).reshape(3, 3)
    hinv = np.linalg.inv(h)
    frame = LocalFrame(calib.origin_lon, calib.origin_lat)
    # Ground (x, y) shows at pixel hinv @ (x, y, 1) = (a, b, c): in front when c > 0, inside when
    # 0 <= a <= width c and 0 <= b <= height c. Each is a half-plane in (x, y).
    planes = np.array([hinv[2], hinv[0], width * hinv[2] - hinv[0], hinv[1], height * hinv[2] - hinv[1]])
    near = _nearest_ground(h, width, height)
    if near is None:
        return EMPTY
    local = _polygon(_clip(_disc(near[0], near[1], max_range_m), planes))
    return frame.to_lonlat(local) if not local.is_empty else EMPTY


def _nearest_ground(h: FloatArray, width: int, height: int) -> tuple[float, float] | None:
    """Ground metres at the bottom centre of the image, else at its corner nearest the camera; None: all sky."""
    x, y, w = h @ np.array([width / 2.0, float(height), 1.0])
    if w > 0:
        return float(x / w), float(y / w)
    best: tuple[float, float] | None = None
    best_w = 0.0
    for u, v in ((0.0, height), (width, height), (0.0, 0.0), (width, 0.0)):
        x, y, w = h @ np.array([u, v, 1.0])
        if w > best_w:  # the larger w, the nearer the camera along its rays
            best, best_w = (float(x / w), float(y / w)), float(w)
    return best


def drone_footprint(pose: CameraPose, camera: Pinhole, ground_alt_m: float, max_range_m: float) -> BaseGeometry:
    """The lon/lat polygon of flat ground at `ground_alt_m` a pinhole camera at `pose` shows, within
    `max_range_m` of the point below it; empty when it looks above the horizon (or is not above the ground).

    >>> cam = Pinhole.from_fov(640, 480, 90.0)
    >>> poly = drone_footprint(CameraPose(0.0, 0.0, 100.0, el_deg=-90.0), cam, 0.0, 1000.0)
    >>> round(LocalFrame(0.0, 0.0).to_local(poly).area)  # 200 m x 150 m straight below
    30000
    """
    _check_range(max_range_m)
    above = pose.alt_m - ground_alt_m
    if not above > 0.0:
        return EMPTY
    rt = camera_to_ned(pose).T  # NED -> camera axes (boresight, right, down)
    # Camera axes of a ground point (north n, east e, down `above`), affine in (n, e): row i is (n, e, 1) coefficients.
    c = np.column_stack([rt[:, 0], rt[:, 1], rt[:, 2] * above])
    fx, fy, cx, cy = camera.fx, camera.fy, camera.cx, camera.cy
    x_num, y_num = fx * c[1] + cx * c[0], fy * c[2] + cy * c[0]  # pixel x * c0, pixel y * c0
    planes = np.array([c[0], x_num, camera.width * c[0] - x_num, y_num, camera.height * c[0] - y_num])
    ne = _clip(_disc(0.0, 0.0, max_range_m), planes)
    if len(ne) < 3:
        return EMPTY
    az = np.degrees(np.arctan2(ne[:, 1], ne[:, 0]))
    dist = np.hypot(ne[:, 0], ne[:, 1])
    n = len(ne)
    lon, lat, _ = _GEOD.fwd(np.full(n, pose.lon), np.full(n, pose.lat), az, dist)
    return _polygon_lonlat(np.column_stack([lon, lat]))


def _polygon_lonlat(points: FloatArray) -> BaseGeometry:
    poly = Polygon(points)
    return poly if poly.is_valid and not poly.is_empty and poly.area > 0 else EMPTY


def moved_m(a: BaseGeometry, b: BaseGeometry) -> float:
    """How far apart two nearby lon/lat footprints are, in metres (Hausdorff distance); inf if one is empty.

    >>> from shapely.geometry import box
    >>> round(moved_m(box(0, 0, 0.001, 0.001), box(0, 0.0001, 0.001, 0.0011)), 1)
    11.1
    """
    if a.is_empty or b.is_empty:
        return math.inf
    lat = math.radians(a.centroid.y)
    kx = _M_PER_DEG_LON * math.cos(lat)

    def scale(xy: FloatArray) -> FloatArray:
        return np.column_stack([xy[:, 0] * kx, xy[:, 1] * _M_PER_DEG_LAT])

    return float(shapely.hausdorff_distance(shapely.transform(a, scale), shapely.transform(b, scale)))


class FootprintSampler:
    """One camera's per-frame footprints as compact rows [start, end) with a polygon.

    `update(t, polygon)` for each processed frame (None or empty: nothing seen) returns the rows to
    write, each complete so far: the open row's end is the last frame's time plus `hold_s` (one
    frame period). A pause longer than `max_gap_s` (and two frame periods), or a frame seeing
    nothing, closes the open row. With `sample_s`/`move_m`, a row `sample_s` old or a footprint
    moved more than `move_m` from the row's starts the next row at that frame's time.

    >>> from datetime import UTC
    >>> from shapely.geometry import box
    >>> s, t0 = FootprintSampler("cam", hold_s=0.2, max_gap_s=1.0), datetime(2026, 1, 1, tzinfo=UTC)
    >>> rows = {}  # the last write of each row wins, as in the store (keyed by camera and start)
    >>> for i in (0, 1, 2, 10, 11):
    ...     rows.update({r.start: r for r in s.update(t0 + timedelta(seconds=0.2 * i), box(0, 0, 1, 1))})
    >>> [((r.start - t0).total_seconds(), round((r.end - t0).total_seconds(), 3)) for r in rows.values()]
    [(0.0, 0.6), (2.0, 2.4)]
    """

    def __init__(self, camera: str, kind: str = "fixed", *, hold_s: float, max_gap_s: float,
                 sample_s: float = math.inf, move_m: float = math.inf) -> None:
        for name, v in (("hold_s", hold_s), ("max_gap_s", max_gap_s), ("sample_s", sample_s), ("move_m", move_m)):
            if not v >= 0:
                raise ValueError(f"{name} must be >= 0, got {v}")
        self.camera, self.kind = camera, kind
        self.hold = timedelta(seconds=hold_s)
        self.gap = timedelta(seconds=max(max_gap_s, 2.0 * hold_s))
        self.sample = timedelta(seconds=sample_s) if math.isfinite(sample_s) else None
        self.move_m = move_m
        self.rows = 0
        self._open: Footprint | None = None
        self._last: datetime | None = None

    def update(self, t: datetime, polygon: BaseGeometry | None) -> list[Footprint]:
        """The rows to (re)write after a frame at `t` that saw `polygon` (lon/lat) on the ground."""
        out: list[Footprint] = []
        seen = polygon is not None and not polygon.is_empty
        op, last = self._open, self._last
        if op is not None and last is not None and (not seen or t - last > self.gap or t < last):
            # A frame that sees nothing ends the view at its own time, if that comes before the hold does.
            end = last + self.hold if seen or t < last else min(last + self.hold, t)
            out.append(dataclasses.replace(op, end=end))
            op = None
        if not seen:
            self._open, self._last = None, None
            return out
        assert polygon is not None
        if op is not None and ((self.sample is not None and t - op.start >= self.sample)
                               or (math.isfinite(self.move_m) and moved_m(op.polygon, polygon) > self.move_m)):
            out.append(dataclasses.replace(op, end=t))
            op = None
        if op is None:
            op = Footprint(self.camera, t, t + self.hold, polygon, self.kind)
            self.rows += 1
        else:
            op = dataclasses.replace(op, end=t + self.hold)
        self._open, self._last = op, t
        out.append(op)
        return out

    def close(self) -> list[Footprint]:
        """The open row as it stands (already returned by `update`), and forget it."""
        op, self._open, self._last = self._open, None, None
        return [op] if op is not None else []
