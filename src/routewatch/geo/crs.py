"""Local metric frame: lon/lat <-> metres on a transverse Mercator centred on the area."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]

# Beyond this half-extent the scale error of one frame passes ~0.3 %.
MAX_EXTENT_M = 1_000_000.0


class LocalFrame:
    """A metric frame centred on (lon0, lat0), x east and y north in metres.

    >>> f = LocalFrame(149.16, -35.36)
    >>> x, y = f.xy(149.16, -35.36)
    >>> abs(x) < 1e-6 and abs(y) < 1e-6
    True
    >>> lon, lat = f.lonlat(*f.xy(149.2, -35.3))
    >>> round(lon, 9), round(lat, 9)
    (149.2, -35.3)
    """

    __slots__ = ("_fwd", "_inv", "lat0", "lon0")

    def __init__(self, lon0: float, lat0: float) -> None:
        if not (-180.0 <= lon0 <= 180.0 and -90.0 <= lat0 <= 90.0):
            raise ValueError(f"frame centre out of range: lon {lon0}, lat {lat0}")
        self.lon0 = float(lon0)
        self.lat0 = float(lat0)
        self._fwd, self._inv = _transformers(self.lon0, self.lat0)

    @classmethod
    def around(cls, geometries: Iterable[BaseGeometry]) -> LocalFrame:
        """A frame centred on the bounding box of lon/lat geometries (origin if none).

        Refuses (ValueError) a set wider than 2 x MAX_EXTENT_M: one frame would distort widths.
        """
        geoms = [g for g in geometries if not g.is_empty]
        if not geoms:
            return cls(0.0, 0.0)
        minx, miny, maxx, maxy = shapely.total_bounds(np.array(geoms, dtype=object))
        frame = cls((minx + maxx) / 2.0, (miny + maxy) / 2.0)
        xs, ys = frame.xy_many(np.array([minx, maxx, minx, maxx, frame.lon0, frame.lon0]),
                               np.array([miny, miny, maxy, maxy, miny, maxy]))
        reach = float(max(np.abs(xs).max(), np.abs(ys).max()))
        if not np.isfinite(reach) or reach > MAX_EXTENT_M:
            raise ValueError(
                f"the corridors span about {2 * reach / 1000:,.0f} km; one local frame is accurate to about "
                f"0.3 % only within {MAX_EXTENT_M / 1000:,.0f} km of its centre: split the set by region "
                "and run one routewatch per region"
            )
        return frame

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """Project one lon/lat point to metres."""
        x, y = self._fwd.transform(lon, lat)
        return float(x), float(y)

    def xy_many(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Project arrays of lon/lat to metres (vectorised)."""
        x, y = self._fwd.transform(lon, lat)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        """Unproject one point from metres to lon/lat."""
        lon, lat = self._inv.transform(x, y)
        return float(lon), float(lat)

    def to_local(self, geom: BaseGeometry) -> BaseGeometry:
        """A lon/lat geometry in this frame's metres."""
        return shapely.transform(geom, self._project_coords)

    def to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        """A geometry in this frame's metres back in lon/lat."""
        return shapely.transform(geom, self._unproject_coords)

    def _project_coords(self, coords: FloatArray) -> FloatArray:
        x, y = self._fwd.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    def _unproject_coords(self, coords: FloatArray) -> FloatArray:
        lon, lat = self._inv.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])


@functools.lru_cache(maxsize=64)
def _transformers(lon0: float, lat0: float) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    """lon/lat -> frame and back; shared by frames of one centre (making one costs ~10 ms; pyproj's are thread-safe)."""
    crs = pyproj.CRS.from_proj4(f"+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m")
    return (pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True),
            pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True))


def bearing_deg(dx: float, dy: float) -> float:
    """Compass bearing (0 = north, clockwise) of a displacement in a local frame.

    >>> bearing_deg(1.0, 0.0), bearing_deg(0.0, -1.0)
    (90.0, 180.0)
    """
    return math.degrees(math.atan2(dx, dy)) % 360.0


def angle_diff_deg(a: float, b: float) -> float:
    """Smallest absolute difference between two bearings, in [0, 180].

    >>> angle_diff_deg(350.0, 10.0)
    20.0
    """
    d = abs(a - b) % 360.0
    return d if d <= 180.0 else 360.0 - d
