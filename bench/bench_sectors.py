"""Scale-out by sector: what one worker of N does per second of input, against one worker doing everything.

Usage: python bench/bench_sectors.py [--sectors 4] [--tracks 4000] [--steps 30] [--corridors 400]

Tracks walk at 1 Hz on a square split into N vertical strips (the sectors); corridors (lines and
boxes) are spread over it. Baseline, in the same run: one pipeline fed every fix (a worker without
sectors). Measured: one sector worker, its SectorGate then its pipeline, fed the same fixes (it reads
everything, keeps its strip and margin). Prints one JSON line: input fixes/s of each and the ratio.
Pinned to one CPU core.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta

from shapely.geometry import LineString, Polygon

from routewatch.config.engine import AlertsConfig, EngineConfig
from routewatch.geo.crs import LocalFrame
from routewatch.geo.sectors import Sector, SectorMap
from routewatch.model import Corridor, CorridorKind, Observation
from routewatch.pipeline.core import Pipeline
from routewatch.pipeline.sectors import SectorGate

FRAME = LocalFrame(35.0, 31.0)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
HALF = 10_000.0
BATCH = 2000


def _poly(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return Polygon([FRAME.lonlat(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))])


def _world(n_sectors: int, n_tracks: int, steps: int, n_corr: int, seed: int):  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    width = 2 * HALF / n_sectors
    sectors = [Sector(f"s{i}", _poly(-HALF + i * width, -HALF, -HALF + (i + 1) * width, HALF))
               for i in range(n_sectors)]
    corridors = []
    for i in range(n_corr):
        x, y = rnd.uniform(-HALF, HALF), rnd.uniform(-HALF, HALF)
        if i % 2:
            corridors.append(Corridor(f"l{i}", LineString([FRAME.lonlat(x, y - 300), FRAME.lonlat(x, y + 300)]),
                                      kind=CorridorKind.LINE))
        else:
            corridors.append(Corridor(f"b{i}", _poly(x, y, x + 200, y + 200), kind=CorridorKind.EXCLUSION))
    tracks = [(rnd.uniform(-HALF, HALF), rnd.uniform(-HALF, HALF), rnd.uniform(-3, 3), rnd.uniform(-3, 3))
              for _ in range(n_tracks)]
    fixes = []
    for t in range(steps):
        for k, (x, y, vx, vy) in enumerate(tracks):
            lon, lat = FRAME.lonlat(x + vx * t, y + vy * t)
            fixes.append(Observation(f"t{k}", T0 + timedelta(seconds=t), lon, lat, subject_class="person",
                                     source="bench"))
    return sectors, corridors, fixes


def _time(feed, fixes) -> float:  # type: ignore[no-untyped-def]
    start = time.process_time()
    for i in range(0, len(fixes), BATCH):
        feed(fixes[i:i + BATCH])
    return time.process_time() - start


def run(n_sectors: int, n_tracks: int, steps: int, n_corr: int, margin_m: float, seed: int) -> dict[str, object]:
    sectors, corridors, fixes = _world(n_sectors, n_tracks, steps, n_corr, seed)
    one = Pipeline(corridors, EngineConfig(), AlertsConfig())
    base_s = _time(one.feed_many, fixes)
    smap = SectorMap(sectors, own="s0", default="s0", margin_m=margin_m)
    gate = SectorGate(smap, hold_s=EngineConfig().cross_max_gap_s)
    worker = Pipeline(corridors, EngineConfig(), AlertsConfig(), owns=smap.owns)
    sector_s = _time(lambda chunk: worker.feed_many(gate.admit(chunk).events), fixes)
    return {
        "bench": "sectors", "sectors": n_sectors, "tracks": n_tracks, "fixes": len(fixes), "corridors": n_corr,
        "margin_m": margin_m, "one_worker_fixes_per_s": round(len(fixes) / base_s),
        "sector_worker_fixes_per_s": round(len(fixes) / sector_s), "ratio": round(base_s / sector_s, 2),
        "sector_worker_counts": dict(gate.counts),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sectors", type=int, default=4)
    ap.add_argument("--tracks", type=int, default=4000)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--corridors", type=int, default=400)
    ap.add_argument("--margin-m", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(json.dumps(run(a.sectors, a.tracks, a.steps, a.corridors, a.margin_m, a.seed)), flush=True)


if __name__ == "__main__":
    main()
