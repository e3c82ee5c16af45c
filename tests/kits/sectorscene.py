"""Two sectors, west and east of x = 0, and walkers crossing lines in both, one across the boundary.

Local metres on tests.kits.engine.FRAME. The handover walker steps from x = -3 (west) to x = 1 (east)
and so crosses `edge-line` (x = 0.5) right after the boundary, between a west fix and an east one.
`far` walks outside both sectors: its positions belong to the default sector (the first, west).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from routewatch.model import Corridor, Observation
from tests.kits.engine import FRAME, box, line

HALF = 3000.0
CORRIDORS: tuple[Corridor, ...] = (
    line("west-line", [(-150, -1000), (-150, 1000)]),
    line("east-line", [(150, -1000), (150, 1000)]),
    line("edge-line", [(0.5, -1000), (0.5, 1000)]),
    box("east-yard", 400, -100, 600, 100),
    line("far-line", [(4000, -1000), (4000, 1000)]),
)

# (subject, x0, y, step per second in metres, fixes)
WALKERS: tuple[tuple[str, float, float, float, int], ...] = (
    *((f"w{k}", -400.0, -300.0 + 200 * k, 3.0, 110) for k in range(3)),
    *((f"e{k}", 50.0, -60.0 + 60 * k, 4.0, 160) for k in range(3)),
    ("handover", -299.0, 500.0, 4.0, 150),
    ("far", 3900.0, 0.0, 3.0, 70),
)


def sector_polygon(x0: float, x1: float) -> dict[str, Any]:
    """A GeoJSON Polygon (lon/lat) of the local rectangle x0..x1, -HALF..HALF."""
    ring = [FRAME.lonlat(x, y) for x, y in ((x0, -HALF), (x1, -HALF), (x1, HALF), (x0, HALF), (x0, -HALF))]
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


def sector_areas() -> list[dict[str, Any]]:
    """settings.sectors.areas: west first (so it is also the default), then east."""
    return [{"id": "west", "polygon": sector_polygon(-HALF, 0.0)}, {"id": "east", "polygon": sector_polygon(0.0, HALF)}]


def observations(t0: datetime, source: str = "field") -> list[Observation]:
    """Every walker's 1 Hz fixes, interleaved in time order (as a broker would deliver them)."""
    out = []
    for name, x0, y, step, n in WALKERS:
        for i in range(n):
            lon, lat = FRAME.lonlat(x0 + step * i, y)
            out.append(Observation(f"{source}/{name}", t0 + timedelta(seconds=i), round(lon, 8), round(lat, 8),
                                   subject_class="person", source=source))
    return sorted(out, key=lambda o: (o.time, o.subject_id))
