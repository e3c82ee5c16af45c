"""Backtest speed: stored fixes re-run through the rules, against the live pipeline on the same data.

Usage: python bench/bench_backtest.py [--hours 24] [--tracks 100] [--db URL] [--workers N]

Builds a store with `tracks` subjects reporting at 1 Hz for `hours` (random walks over the demo's
border sector and its four corridors), then times `routewatch.analysis.backtest.backtest` over the whole
window (read from the database + rules + diff). The baseline is the live pipeline's rate on the
same observations already in memory (`Pipeline.feed_many`, what `run` does per batch), measured
in the same run. The backtest runs twice, in one process and shared out among `--workers` processes
(which must give the same alerts). Prints one JSON line. Target: a day of 100 tracks (8.64 M fixes)
in under 60 s.

With `--db` naming a database that already holds this run's fixes (same --hours and --tracks, from
an earlier run with that --db), the fixes are not written again: the live baseline is still
measured, the backtests read what is there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from routewatch.analysis.backtest import Window, backtest
from routewatch.app.demo.scenario import FRAME, corridors_path
from routewatch.app.runtime import new_pipeline
from routewatch.config.schema import Settings
from routewatch.geo.corridors import load_corridors
from routewatch.model import AlertChange, Observation
from routewatch.store import open_store

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CLASSES = ("person", "car", "drone", "truck")


def fixes(tracks: int, seconds: int, seed: int = 11) -> Iterator[list[Observation]]:
    """One list of observations per second: every track steps at 1-20 m/s, turning slowly."""
    rng = random.Random(seed)
    state = [[rng.uniform(-2000, 2000), rng.uniform(-1500, 1500), rng.uniform(0, 2 * math.pi),
              rng.uniform(1.0, 20.0)] for _ in range(tracks)]
    for s in range(seconds):
        t = T0 + timedelta(seconds=s)
        out = []
        for k, st in enumerate(state):
            st[2] += rng.gauss(0.0, 0.05)
            st[0] += st[3] * math.sin(st[2])
            st[1] += st[3] * math.cos(st[2])
            if abs(st[0]) > 2500 or abs(st[1]) > 2000:  # turn back into the sector
                st[2] += math.pi
            lon, lat = FRAME.lonlat(st[0], st[1])
            out.append(Observation(f"bench/{k}", t, lon, lat, subject_class=CLASSES[k % len(CLASSES)],
                                   source="bench"))
        yield out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--tracks", type=int, default=100)
    ap.add_argument("--db", help="Database URL (default: a new SQLite file in a temporary directory).")
    ap.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8),
                    help="Processes for the shared-out run (default: one per CPU, at most 8).")
    args = ap.parse_args()
    seconds = int(args.hours * 3600)
    corridors = load_corridors(corridors_path())
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = open_store(url)
        end = T0 + timedelta(seconds=seconds)
        reuse = store.positions.count_between(T0, end) == args.tracks * seconds
        if not reuse:
            store.corridors.save(corridors, author="bench", comment="bench", at=T0)
        # Live baseline on the same data: in memory, as `run` feeds its batches. The live alerts
        # are stored with the fixes, as `run` does, so the backtest compares against them.
        pipeline = new_pipeline(corridors, settings)
        live_cpu = 0.0
        batch: list[Observation] = []
        changes: list[AlertChange] = []
        written = 0
        for second in fixes(args.tracks, seconds):
            c0 = time.process_time()
            changes.extend(pipeline.feed_many(second))
            live_cpu += time.process_time() - c0
            batch.extend(second)
            if len(batch) >= 100_000:
                if not reuse:
                    store.batches.write(changes, batch)
                written += len(batch)
                batch, changes = [], []
                print(f"\r{'fed' if reuse else 'stored'} {written:,} fixes", end="", file=sys.stderr)
        if not reuse:
            store.batches.write(changes, batch)
        written += len(batch)
        print(file=sys.stderr)
        window = Window(T0, end)
        w0 = time.perf_counter()
        single = backtest(store, corridors, window, settings.engine, settings.alerts, warmup_s=0.0,
                          collect_less=True)
        single_wall = time.perf_counter() - w0
        w0 = time.perf_counter()
        report = backtest(store, corridors, window, settings.engine, settings.alerts, warmup_s=0.0,
                          workers=args.workers)
        wall = time.perf_counter() - w0
        store.close()
    assert single.diff == report.diff, "the shared-out backtest must give the same alerts"
    live_rate = written / live_cpu
    rate = report.observations / wall
    print(json.dumps({
        "bench": "backtest", "db": url.split(":", 1)[0], "tracks": args.tracks, "hours": args.hours,
        "fixes": report.observations, "workers": args.workers, "wall_s": round(wall, 2),
        "one_process_fixes_per_s": round(report.observations / single_wall),
        "fixes_per_s": round(rate), "live_fixes_per_s": round(live_rate), "ratio_to_live": round(rate / live_rate, 3),
        "day_of_100_tracks_s": round(86400 * 100 / rate, 1), "target_s": 60,
        "alerts": {"unchanged": len(report.diff.unchanged), "added": len(report.diff.added),
                   "removed": len(report.diff.removed)},
    }))


if __name__ == "__main__":
    main()
