"""MAVLink ingest end to end (tlog -> engine -> alerts and positions in SQLite) vs pymavlink's bare parse.

Usage: python bench/bench_ingest.py [TLOG] [--repeat 3]

Default input: the real flight in ../shared/data/mavlink (with the CMAC fence as an operating area);
without it, the bundled demo scenario. Prints one JSON line; ratio >= 1.0 means routewatch, doing the
whole job, is not slower than pymavlink doing nothing but parsing.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pymavlink import mavutil

from routewatch.app.analyze import analyze
from routewatch.app.demo.scenario import corridors_path, write_tlog
from routewatch.config.schema import Settings
from routewatch.config.store import StoreConfig
from routewatch.geo.corridors import load_corridors
from routewatch.geo.fencefile import parse_fence_file
from routewatch.store import open_store

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pymavlink_parse(path: Path) -> tuple[int, float]:
    t = time.perf_counter()
    conn = mavutil.mavlink_connection(str(path))
    n = 0
    while conn.recv_match() is not None:
        n += 1
    return n, time.perf_counter() - t


def routewatch_e2e(path: Path, corridors: list, workdir: Path, run: int) -> tuple[dict, float]:
    url = f"sqlite:///{workdir / f'bench{run}.db'}"
    settings = Settings(store=StoreConfig(url=url))
    t = time.perf_counter()
    store = open_store(url)
    saved = store.corridors.save(corridors, author="bench", comment="", at=datetime.now(UTC))
    summary = analyze([path], settings, store, saved)
    alerts = len(store.alerts.find())
    store.close()
    elapsed = time.perf_counter() - t
    return {"alerts": alerts, "positions": summary.positions, **summary.ingest}, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("tlog", nargs="?", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        real = SHARED / "mavlink" / "dronekit_flight_replay_flight.tlog"
        if a.tlog is not None:
            path, corridors = a.tlog, list(load_corridors(corridors_path()))
        elif real.exists():
            path = real
            fence = (SHARED / "geo" / "ardupilot_CMAC-fence.txt").read_text()
            corridors = [parse_fence_file(fence, id="cmac-fence")]
        else:
            path, corridors = write_tlog(work / "demo.tlog"), list(load_corridors(corridors_path()))
        base = min(pymavlink_parse(path)[1] for _ in range(a.repeat))
        n_msgs = pymavlink_parse(path)[0]
        runs = [routewatch_e2e(path, corridors, work, i) for i in range(a.repeat)]
        ours = min(r[1] for r in runs)
        info = runs[0][0]
    print(json.dumps({
        "bench": "mavlink_ingest_e2e", "input": path.name, "messages_pymavlink": n_msgs,
        "messages_routewatch": info.get("messages"), "positions_stored": info["positions"],
        "alerts": info["alerts"], "pymavlink_parse_s": round(base, 3), "routewatch_e2e_s": round(ours, 3),
        "pymavlink_msgs_per_s": round(n_msgs / base), "routewatch_msgs_per_s": round(n_msgs / ours),
        "ratio": round(base / ours, 2), "target_ratio": 1.0,
    }))


if __name__ == "__main__":
    main()
