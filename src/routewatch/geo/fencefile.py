"""MAVProxy/ArduPilot fence text files ("fence load" format) as a corridor polygon.

One `lat lon` pair per line (tab or spaces): line 1 is the return point, the rest are the polygon
vertices with the last repeating the first. Blank lines and `#` comments are skipped.
"""

from __future__ import annotations

from routewatch.geo.corridors import MAX_BYTES, CorridorError, Problem, validate_features
from routewatch.model import Corridor, CorridorKind


def parse_fence_file(
    text: str | bytes, *, id: str, kind: CorridorKind = CorridorKind.OPERATING_AREA, name: str = ""
) -> Corridor:
    """The fence polygon of a fence file as a corridor (the return point is not kept)."""
    if len(text) > MAX_BYTES:
        raise _error(id, f"fence file is {len(text)} bytes; the limit is {MAX_BYTES}")
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    problems: list[str] = []
    points: list[list[float]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if number == 1 and line.startswith("QGC WPL"):
            raise _error(id, "this is a QGC WPL mission file, not a fence file of 'lat lon' lines")
        fields = line.replace(",", " ").split()
        try:
            lat, lon = (float(f) for f in fields)
        except ValueError:
            problems.append(f"line {number}: expected 'lat lon', got {raw.strip()[:60]!r}")
            continue
        points.append([lon, lat])
    if problems:
        raise CorridorError(Problem(0, id, p) for p in problems)
    if len(points) < 4:
        raise _error(id, f"a fence file needs a return point and at least 3 vertices, got {len(points)} points")
    ring = points[1:]
    if ring[0] != ring[-1]:
        ring.append(ring[0])  # some tools leave the closing vertex out; the polygon is still unambiguous
    feature = {
        "type": "Feature",
        "properties": {"id": id, "kind": kind.value, "name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return validate_features([feature])[0]


def _error(id: str, message: str) -> CorridorError:
    return CorridorError([Problem(0, id, message)])
