"""Lon/lat boxes: the `minlon,minlat,maxlon,maxlat` areas that queries and exports are narrowed to.

>>> parse_bbox("5,52,5.5,52.25")
BBox(min_lon=5.0, min_lat=52.0, max_lon=5.5, max_lat=52.25)
>>> parse_bbox("5,52,5.5,52.25").contains(5.5, 52.0)
True
>>> parse_bbox("5,52,4,53", label="area")
Traceback (most recent call last):
...
ValueError: area: minlon (5.0) must be less than maxlon (4.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shapely.geometry import Polygon, box


@dataclass(frozen=True, slots=True)
class BBox:
    """A lon/lat box, border included, not crossing the antimeridian (a point's box has no size)."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def __post_init__(self) -> None:
        _check(self.as_tuple(), "bbox", strict=False)

    def contains(self, lon: float, lat: float) -> bool:
        """Whether (lon, lat) lies in the box or on its border."""
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat

    def as_tuple(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat)."""
        return (self.min_lon, self.min_lat, self.max_lon, self.max_lat)

    def text(self) -> str:
        """The box as 'minlon,minlat,maxlon,maxlat'."""
        return ",".join(f"{v:g}" for v in self.as_tuple())

    def polygon(self) -> Polygon:
        """The box as a Shapely polygon."""
        return box(*self.as_tuple())


def _check(values: Sequence[float], label: str, *, strict: bool) -> None:
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{label}: the numbers must be finite")
    min_lon, min_lat, max_lon, max_lat = values
    for name, v, bound in (("minlon", min_lon, 180), ("maxlon", max_lon, 180),
                           ("minlat", min_lat, 90), ("maxlat", max_lat, 90)):
        if not -bound <= v <= bound:
            raise ValueError(f"{label}: {name} ({v}) must be within -{bound}..{bound}")
    for lo, hi, low, high in ((min_lon, max_lon, "minlon", "maxlon"), (min_lat, max_lat, "minlat", "maxlat")):
        if lo > hi or (strict and lo == hi):
            raise ValueError(f"{label}: {low} ({lo}) must be less than {high} ({hi})")


def area(values: Sequence[float], *, label: str = "bbox") -> BBox:
    """An area from four numbers (minlon, minlat, maxlon, maxlat); it must have a size. ValueError says why not."""
    if len(values) != 4:
        raise ValueError(f"{label}: expected minlon,minlat,maxlon,maxlat (4 numbers), got {len(values)}")
    _check(values, label, strict=True)
    return BBox(*(float(v) for v in values))


def parse_bbox(text: str, *, label: str = "bbox") -> BBox:
    """An area from 'minlon,minlat,maxlon,maxlat'; ValueError (prefixed with `label`) says what is wrong."""
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError(f"{label}: expected minlon,minlat,maxlon,maxlat (4 numbers), got {len(parts)} part(s)")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{label}: {text[:100]!r} is not 4 comma-separated numbers") from None
    return area(values, label=label)
