"""Sectors: which configured area owns a position, and whether a position is near the one a worker owns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from routewatch.geo.area import load_area
from routewatch.geo.corridor_geometry import parse_geometry
from routewatch.geo.crs import LocalFrame

# Segments longer than this are split before the margin buffer goes back to lon/lat, so edges stay true.
_DENSIFY_M = 100.0


@dataclass(frozen=True, slots=True)
class Sector:
    """A sector id and its area (lon/lat)."""

    id: str
    area: BaseGeometry


class SectorMap:
    """Sectors in order, the one this worker owns, the default owner of positions in no sector, a margin.

    >>> square = lambda x0: Polygon([(x0, 0), (x0 + 1, 0), (x0 + 1, 1), (x0, 1)])
    >>> m = SectorMap([Sector("w", square(0)), Sector("e", square(1))], own="w", default="w", margin_m=0)
    >>> m.owner(0.5, 0.5), m.owner(1.5, 0.5), m.owner(5, 5)
    ('w', 'e', None)
    >>> m.owns(0.5, 0.5), m.owns(1.5, 0.5), m.owns(5, 5)
    (True, False, True)
    """

    def __init__(self, sectors: Sequence[Sector], *, own: str, default: str, margin_m: float) -> None:
        ids = [s.id for s in sectors]
        if own not in ids or default not in ids:
            raise ValueError(f"own ({own!r}) and default ({default!r}) must be among the sectors {ids}")
        self.sectors = tuple(sectors)
        self.own, self.default, self.margin_m = own, default, margin_m
        for s in self.sectors:
            shapely.prepare(s.area)
        mine = next(s.area for s in self.sectors if s.id == own)
        try:
            self.near = _buffered(mine, margin_m)
        except ValueError:  # wider than one local metric frame is accurate for
            raise ValueError(f"sectors.areas[{own}] is too large to measure margin_m in one local metric frame "
                             "(2,000 km across at most): split it, or set sectors.margin_m to 0") from None
        shapely.prepare(self.near)
        self._mine_is_default = own == default

    def owner(self, lon: float, lat: float) -> str | None:
        """The first listed sector containing the position (its boundary included); None if none does."""
        for s in self.sectors:
            if shapely.intersects_xy(s.area, lon, lat):
                return s.id
        return None

    def owns(self, lon: float, lat: float) -> bool:
        """Whether this worker owns the position: it is in our sector, or in none and we are the default."""
        who = self.owner(lon, lat)
        return who == self.own or (who is None and self._mine_is_default)

    def owners(self, lon: np.ndarray, lat: np.ndarray) -> list[str | None]:
        """`owner` for many positions at once (vectorised per sector)."""
        out: list[str | None] = [None] * len(lon)
        left = np.ones(len(lon), dtype=bool)
        for s in self.sectors:
            hit = left & shapely.intersects_xy(s.area, lon, lat)
            for i in np.flatnonzero(hit):
                out[i] = s.id
            left &= ~hit
        return out

    def near_mine(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Whether each position is within margin_m of our sector (vectorised)."""
        return np.asarray(shapely.intersects_xy(self.near, lon, lat), dtype=bool)


def _buffered(area: BaseGeometry, margin_m: float) -> BaseGeometry:
    """`area` grown by `margin_m` metres, in lon/lat (buffered in a local metric frame)."""
    if margin_m <= 0:
        return area
    frame = LocalFrame.around([area])
    local = shapely.segmentize(frame.to_local(area).buffer(margin_m), _DENSIFY_M)
    return frame.to_lonlat(local)


def load_sector(sector_id: str, polygon: object | None, file: Path | None) -> Sector:
    """A sector from an inline GeoJSON polygon or a GeoJSON file; ValueError names the sector and the problem."""
    where = f"sectors.areas[{sector_id}]"
    if file is not None:
        try:
            return Sector(sector_id, load_area(file))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{where}.file: {exc}") from None
    errs: list[str] = []
    geom = parse_geometry(polygon, errs)
    if geom is None or not isinstance(geom, Polygon | MultiPolygon):
        raise ValueError(f"{where}.polygon: {'; '.join(errs) or 'not a Polygon or MultiPolygon'}")
    return Sector(sector_id, geom)
