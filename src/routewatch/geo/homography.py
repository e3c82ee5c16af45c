"""Fixed-camera georeferencing: a pixel <-> ground homography fitted to ground control points."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from routewatch.geo.crs import LocalFrame

FloatArray = npt.NDArray[np.float64]

# Below these two GCPs are the same point: one pixel cannot see two places, nor two pixels one spot.
DUPLICATE_PX = 0.5
DUPLICATE_M = 0.01
# Relative sizes (in Hartley-normalised units, spread ~1) under which the fit has no unique answer.
COLLINEAR_TOL = 1e-2
DEGENERATE_TOL = 1e-9
# A fixed camera resolves nothing useful this far out; a GCP beyond it is a typo (or the antimeridian).
MAX_REACH_M = 50_000.0


class CalibrationError(ValueError):
    """A set of ground control points that gives no trustworthy calibration; the message says why."""


@dataclass(frozen=True, slots=True)
class GroundControlPoint:
    """A pixel (u right, v down) whose place on the ground (WGS84 lon/lat) is known."""

    u_px: float
    v_px: float
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Calibration:
    """An image -> ground homography for one fixed camera, fitted in a local metric frame.

    `homography` is row-major 3x3, mapping (u, v, 1) to metres (x east, y north) of a LocalFrame
    centred on (origin_lon, origin_lat), scaled so that w > 0 in front of the camera.
    Build one with `from_gcps`; four GCPs always fit exactly, so use six or more to check them.

    >>> g = [GroundControlPoint(0, 0, 149.1600, -35.3600), GroundControlPoint(100, 0, 149.1601, -35.3600),
    ...      GroundControlPoint(100, 100, 149.1601, -35.3601), GroundControlPoint(0, 100, 149.1600, -35.3601)]
    >>> lon, lat = Calibration.from_gcps(g).to_ground(50, 50)
    >>> round(lon, 6), round(lat, 6)
    (149.16005, -35.36005)
    """

    gcps: tuple[GroundControlPoint, ...]
    homography: tuple[float, ...]
    origin_lon: float
    origin_lat: float
    max_error_m: float = 2.0
    _frame: LocalFrame = field(init=False, repr=False, compare=False)
    _h: FloatArray = field(init=False, repr=False, compare=False)
    _hinv: FloatArray = field(init=False, repr=False, compare=False)
    _errors: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _rms: float = field(init=False, repr=False, compare=False)
    _hull: shapely.Geometry = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        h = np.asarray(self.homography, dtype=np.float64)
        if h.shape != (9,) or not np.all(np.isfinite(h)):
            raise CalibrationError("a homography is nine finite numbers (row-major 3x3)")
        h = h.reshape(3, 3)
        try:
            hinv = np.linalg.inv(h)
        except np.linalg.LinAlgError as exc:
            raise CalibrationError("the homography is singular") from exc
        frame = LocalFrame(self.origin_lon, self.origin_lat)
        object.__setattr__(self, "_frame", frame)
        object.__setattr__(self, "_h", h)
        object.__setattr__(self, "_hinv", hinv)
        pix, ground = _arrays(self.gcps, frame)
        errors = tuple(float(e) for e in _ground_errors(h, pix, ground))
        object.__setattr__(self, "_errors", errors)
        # Once per calibration: every detection's accuracy_m starts from it.
        object.__setattr__(self, "_rms", math.sqrt(sum(e * e for e in errors) / len(errors)) if errors else 0.0)
        hull = shapely.convex_hull(shapely.multipoints(ground))
        shapely.prepare(hull)
        object.__setattr__(self, "_hull", hull)

    @classmethod
    def from_gcps(cls, gcps: Sequence[GroundControlPoint], *, max_error_m: float = 2.0) -> Calibration:
        """Fit a calibration to four or more GCPs; CalibrationError if any GCP misses by more than max_error_m."""
        if not (math.isfinite(max_error_m) and max_error_m > 0):
            raise CalibrationError(f"max_error_m must be a positive number of metres, not {max_error_m}")
        points = tuple(gcps)
        _check_values(points)
        lon0 = float(np.mean([g.lon for g in points]))
        lat0 = float(np.mean([g.lat for g in points]))
        frame = LocalFrame(lon0, lat0)
        pix, ground = _arrays(points, frame)
        _check_geometry(pix, ground)
        h = _fit(pix, ground)
        cal = cls(points, tuple(float(x) for x in h.ravel()), lon0, lat0, max_error_m)
        cal.check()
        # Seen from above, the ground is never mirrored in an image: (u, v down) -> (east, north) flips.
        if np.linalg.det(h) > 0:
            raise CalibrationError("the GCPs describe a mirrored view of the ground: two GCPs are swapped "
                                   "(or the image is flipped)")
        return cal

    @property
    def errors_m(self) -> tuple[float, ...]:
        """Distance on the ground, in metres, from each GCP to where its pixel maps."""
        return self._errors

    @property
    def rms_error_m(self) -> float:
        """Root mean square of `errors_m`."""
        return self._rms

    def check(self) -> None:
        """Raise CalibrationError naming the worst GCP, its error in metres and the limit, if over it."""
        pix, ground = _arrays(self.gcps, self._frame)
        behind = _beyond_horizon(self._h, pix)
        if not self._errors or (max(self._errors) <= self.max_error_m and not behind.any()):
            return
        # A bad GCP drags the fit towards itself; its distance from the others' fit shows it better.
        loo = _leave_one_out_errors(pix, ground)
        rank = np.where(np.isfinite(loo), loo, -1.0) if np.any(np.isfinite(loo)) else np.array(self._errors)
        worst = int(np.argmax(rank + np.where(behind, np.inf, 0.0)))
        g, err = self.gcps[worst], self._errors[worst]
        fitted = f"misses by {err:.2f} m" + (" (beyond the horizon)" if behind[worst] else "")
        others = "" if not np.isfinite(loo[worst]) else (
            f" and lies {loo[worst]:.2f} m from where the other {len(self.gcps) - 1} GCPs put it")
        raise CalibrationError(
            f"calibration refused: GCP #{worst} (u {g.u_px:.1f} px, v {g.v_px:.1f} px -> lon {g.lon:.6f}, "
            f"lat {g.lat:.6f}) {fitted} in the fit{others}; the limit is {self.max_error_m:.2f} m: "
            "check that point for a typo or a swap"
        )

    def to_ground(self, u: float, v: float) -> tuple[float, float] | None:
        """Ground lon/lat seen at pixel (u, v); None on or above the horizon."""
        x, y, w = self._h @ np.array([u, v, 1.0])
        if not (w > 0 and math.isfinite(x / w) and math.isfinite(y / w)):
            return None
        return self._frame.lonlat(float(x / w), float(y / w))

    def outside_m(self, lon: float, lat: float) -> float:
        """Metres from lon/lat to the area its GCPs span (their convex hull); 0 inside.

        The fit is checked only there: further out a homography extrapolates, and near the horizon
        one pixel spans kilometres.
        """
        x, y = self._frame.xy(lon, lat)
        return float(shapely.distance(self._hull, shapely.Point(x, y)))

    def pixel_ground_m(self, u: float, v: float) -> float | None:
        """Ground size in metres of one pixel at (u, v); None when it reaches the horizon.

        (u, v), (u + 1, v) and (u, v + 1) are mapped through the homography; the longer of the two
        ground steps is the footprint: near the camera centimetres, towards the horizon it grows
        without bound.

        >>> g = [GroundControlPoint(0, 0, 149.1600, -35.3600), GroundControlPoint(100, 0, 149.1601, -35.3600),
        ...      GroundControlPoint(100, 100, 149.1601, -35.3601), GroundControlPoint(0, 100, 149.1600, -35.3601)]
        >>> round(Calibration.from_gcps(g).pixel_ground_m(50, 50), 3)  # 100 px span ~9 m east, ~11 m north
        0.111
        """
        xyw = self._h @ np.array([[u, u + 1.0, u], [v, v, v + 1.0], [1.0, 1.0, 1.0]])
        if not np.all(xyw[2] > 0):
            return None
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            xy = xyw[:2] / xyw[2]
        step = float(max(np.hypot(*(xy[:, 1] - xy[:, 0])), np.hypot(*(xy[:, 2] - xy[:, 0]))))
        return step if math.isfinite(step) else None

    def accuracy_m(self, u: float, v: float, pixel_error_px: float = 2.0) -> float | None:
        """One-sigma horizontal accuracy in metres of the ground point seen at pixel (u, v).

        sqrt(rms_error_m^2 + (pixel_error_px * pixel_ground_m)^2): the calibration's own residual
        (the same everywhere) with the ground size of the pixels by which a box's bottom may be
        off (`pixel_error_px`), which grows with range. None on or above the horizon.
        """
        if not (math.isfinite(pixel_error_px) and pixel_error_px >= 0):
            raise ValueError(f"pixel_error_px must be a non-negative number of pixels, not {pixel_error_px}")
        step = self.pixel_ground_m(u, v)
        return None if step is None else math.hypot(self.rms_error_m, pixel_error_px * step)

    def to_ground_many(self, us: npt.ArrayLike, vs: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Vectorised `to_ground`: lon and lat arrays, NaN where a pixel is on or above the horizon."""
        u = np.asarray(us, dtype=np.float64)
        v = np.asarray(vs, dtype=np.float64)
        shape = np.broadcast_shapes(u.shape, v.shape)
        u, v = np.broadcast_to(u, shape).ravel(), np.broadcast_to(v, shape).ravel()
        xyw = self._h @ np.vstack([u, v, np.ones_like(u)])
        ok = xyw[2] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(ok, xyw[0] / np.where(ok, xyw[2], 1.0), np.nan)
            y = np.where(ok, xyw[1] / np.where(ok, xyw[2], 1.0), np.nan)
        lon, lat = _unproject(self._frame, x, y)
        return lon.reshape(shape), lat.reshape(shape)

    def to_pixel(self, lon: float, lat: float) -> tuple[float, float] | None:
        """Pixel (u, v) where ground point lon/lat appears; None if it is behind the camera."""
        x, y = self._frame.xy(lon, lat)
        u, v, w = self._hinv @ np.array([x, y, 1.0])
        # A ground point in front of the camera comes back with the same sign of w as the GCPs had.
        if not (w > 0 and math.isfinite(u / w) and math.isfinite(v / w)):
            return None
        return float(u / w), float(v / w)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for a config file; `from_dict` refits from the GCPs in it."""
        return {
            "gcps": [{"u_px": g.u_px, "v_px": g.v_px, "lon": g.lon, "lat": g.lat} for g in self.gcps],
            "max_error_m": self.max_error_m,
            "origin": [self.origin_lon, self.origin_lat],
            "homography": list(self.homography),
            "errors_m": [round(e, 4) for e in self._errors],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Refit and check a calibration from a config dict (derived keys are informational)."""
        raw = data.get("gcps")
        if not isinstance(raw, Sequence) or isinstance(raw, str):
            raise CalibrationError("a calibration needs 'gcps': a list of {u_px, v_px, lon, lat}")
        gcps = []
        for i, item in enumerate(raw):
            try:
                gcps.append(GroundControlPoint(*(float(item[k]) for k in ("u_px", "v_px", "lon", "lat"))))
            except (KeyError, TypeError, ValueError) as exc:
                raise CalibrationError(f"GCP #{i}: needs numeric u_px, v_px, lon, lat ({exc!r})") from exc
        max_error_m = data.get("max_error_m", 2.0)
        if isinstance(max_error_m, bool) or not isinstance(max_error_m, int | float):
            raise CalibrationError(f"max_error_m must be a number of metres, not {max_error_m!r}")
        return cls.from_gcps(gcps, max_error_m=float(max_error_m))


def _unproject(frame: LocalFrame, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    # LocalFrame has no vectorised inverse yet; its transformer is the one to use.
    lon, lat = frame._inv.transform(x, y)
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    return np.where(bad, np.nan, lon), np.where(bad, np.nan, lat)


def _check_values(gcps: tuple[GroundControlPoint, ...]) -> None:
    if len(gcps) < 4:
        raise CalibrationError(f"a calibration needs at least 4 GCPs, got {len(gcps)} (6 or more lets errors show)")
    for i, g in enumerate(gcps):
        values = (g.u_px, g.v_px, g.lon, g.lat)
        try:
            finite = all(math.isfinite(float(x)) for x in values)
        except (TypeError, ValueError):
            finite = False
        if not finite:
            raise CalibrationError(f"GCP #{i} has a value that is not a finite number: {values}")
        if not (-180.0 <= g.lon <= 180.0 and -90.0 <= g.lat <= 90.0):
            raise CalibrationError(f"GCP #{i}: lon {g.lon}, lat {g.lat} out of range (lat/lon swapped?)")


def _arrays(gcps: Sequence[GroundControlPoint], frame: LocalFrame) -> tuple[FloatArray, FloatArray]:
    pix = np.array([(g.u_px, g.v_px) for g in gcps], dtype=np.float64).reshape(-1, 2)
    x, y = frame.xy_many(np.array([g.lon for g in gcps], dtype=np.float64),
                         np.array([g.lat for g in gcps], dtype=np.float64))
    return pix, np.column_stack([x, y])


def _check_geometry(pix: FloatArray, ground: FloatArray) -> None:
    reach = float(np.max(np.hypot(*ground.T)))
    if not reach <= MAX_REACH_M:
        raise CalibrationError(f"the GCPs lie up to {reach / 1000:,.1f} km from their centre; one camera's GCPs "
                               f"should be within {MAX_REACH_M / 1000:,.0f} km (a typo in a lon/lat?)")
    for pts, kind, tol, unit in ((pix, "pixel", DUPLICATE_PX, "px"), (ground, "ground", DUPLICATE_M, "m")):
        d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        if d[i, j] < tol:
            raise CalibrationError(f"GCPs #{min(i, j)} and #{max(i, j)} are the same {kind} point "
                                   f"({d[i, j]:.3g} {unit} apart)")
        norm = _normaliser(pts)
        p = pts @ norm[:2, :2].T + norm[:2, 2]
        s = np.linalg.svd(p, compute_uv=False)
        if s[1] < COLLINEAR_TOL * s[0]:
            raise CalibrationError(f"the GCPs' {kind} points all lie on one line: spread them over the view")
        if len(pts) == 4:
            for a, b, c in itertools.combinations(range(4), 3):
                (x1, y1), (x2, y2) = p[b] - p[a], p[c] - p[a]
                area = abs(x1 * y2 - x2 * y1) / 2.0
                if area < COLLINEAR_TOL:
                    raise CalibrationError(f"GCPs #{a}, #{b}, #{c} are collinear in {kind} space: "
                                           "with four GCPs no three may lie on one line")


def _normaliser(pts: FloatArray) -> FloatArray:
    """Hartley normalisation: centroid to the origin, mean distance sqrt(2)."""
    c = pts.mean(axis=0)
    d = float(np.mean(np.hypot(*(pts - c).T)))
    s = math.sqrt(2.0) / d if d > 0 else 1.0
    return np.array([[s, 0.0, -s * c[0]], [0.0, s, -s * c[1]], [0.0, 0.0, 1.0]])


def _fit(pix: FloatArray, ground: FloatArray) -> FloatArray:
    """Normalised DLT (least squares in the algebraic error for more than four points)."""
    ti, tg = _normaliser(pix), _normaliser(ground)
    p = pix @ ti[:2, :2].T + ti[:2, 2]
    g = ground @ tg[:2, :2].T + tg[:2, 2]
    n = len(p)
    a = np.zeros((2 * n, 9))
    one = np.ones(n)
    zero = np.zeros((n, 3))
    ph = np.column_stack([p, one])
    a[0::2] = np.hstack([-ph, zero, g[:, :1] * ph])
    a[1::2] = np.hstack([zero, -ph, g[:, 1:] * ph])
    _, s, vt = np.linalg.svd(a)
    # A second (near-)null direction means the points do not pin down one homography.
    if s[7] < DEGENERATE_TOL * s[0]:
        raise CalibrationError("the GCPs do not determine a homography (too many on one line?)")
    hn = vt[-1].reshape(3, 3)
    sv = np.linalg.svd(hn, compute_uv=False)
    if sv[2] < DEGENERATE_TOL * sv[0]:
        raise CalibrationError("the fitted homography is degenerate (GCPs on one line, or swapped)")
    h: FloatArray = np.linalg.inv(tg) @ hn @ ti
    h /= np.linalg.norm(h)
    # Ground in front of the camera has w > 0; a GCP that disagrees shows up as an infinite error.
    if np.sum(np.sign(np.column_stack([pix, one]) @ h[2])) < 0:
        h = -h
    return h


def _leave_one_out_errors(pix: FloatArray, ground: FloatArray) -> FloatArray:
    """Each GCP's distance from the fit of the others (NaN where the others cannot be fitted)."""
    out = np.full(len(pix), np.nan)
    if len(pix) < 5:
        return out
    for i in range(len(pix)):
        keep = np.arange(len(pix)) != i
        try:
            h = _fit(pix[keep], ground[keep])
        except CalibrationError:
            continue
        out[i] = _ground_errors(h, pix[i:i + 1], ground[i:i + 1])[0]
    return out


def _ground_errors(h: FloatArray, pix: FloatArray, ground: FloatArray) -> FloatArray:
    xyw = np.column_stack([pix, np.ones(len(pix))]) @ h.T
    with np.errstate(divide="ignore", invalid="ignore"):
        mapped = xyw[:, :2] / xyw[:, 2:]
    err = np.hypot(*(mapped - ground).T)
    out: FloatArray = np.where(np.isfinite(err), err, np.inf)
    return out


def _beyond_horizon(h: FloatArray, pix: FloatArray) -> npt.NDArray[np.bool_]:
    """GCPs whose pixel the fit puts on or above the horizon (their error is then only a distance)."""
    out: npt.NDArray[np.bool_] = (np.column_stack([pix, np.ones(len(pix))]) @ h[2]) <= 0
    return out
