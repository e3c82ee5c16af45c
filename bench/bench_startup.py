"""Start-up cost as a user meets it: whole processes, each beside its bare baseline in the same run.

- `routewatch --help` against a bare interpreter that imports click (what any click CLI pays);
  target: 0.3 s or less.
- `routewatch analyze` of the real flight log (a fresh SQLite database each time, the CMAC fence as
  corridors) against a bare pymavlink `recv_match` loop over the same file, also a whole process;
  target: a ratio (pymavlink time / analyze time) of 1.0 or more.

Runs alternate their order, repeat (--repeat, default 7) and report medians of wall time and of
CPU time (user + system of the child: steadier on a shared machine). Bytecode is written once in a
warm-up run, as on a user's machine (PYTHONDONTWRITEBYTECODE is dropped for the children).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_mavlink_parse import FLIGHT, generate

ROOT = Path(__file__).resolve().parents[1]
FENCE = ROOT.parent / "shared" / "data" / "geo" / "ardupilot_CMAC-fence.txt"
BARE_LOOP = """
import sys
from pymavlink import mavutil
conn = mavutil.mavlink_connection(sys.argv[1])
n = 0
while conn.recv_match() is not None:
    n += 1
print(n)
"""
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def medians(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def interleaved(a: Callable[[], tuple[float, float]], b: Callable[[], tuple[float, float]],
                repeat: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """`repeat` runs of each, alternating which goes first."""
    ra: list[tuple[float, float]] = []
    rb: list[tuple[float, float]] = []
    for i in range(repeat):
        first, second = ((a, ra), (b, rb)) if i % 2 == 0 else ((b, rb), (a, ra))
        first[1].append(first[0]())
        second[1].append(second[0]())
    return ra, rb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    rw = [py, "-m", "routewatch"]
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        tlog = FLIGHT if FLIGHT.exists() else generate(tmp / "generated.tlog")
        corridors = tmp / "corridors.geojson"
        if FENCE.exists():
            run([*rw, "corridors", "from-fence", str(FENCE), "--id", "cmac-fence", "-o", str(corridors)])
        runs = iter(range(10**6))

        def analyze() -> tuple[float, float]:
            db = f"sqlite:///{tmp / f'run{next(runs)}.db'}"
            extra = ["--corridors", str(corridors)] if corridors.exists() else []
            wall, cpu, out = run([*rw, "analyze", str(tlog), *extra, "--db", db, "--json"])
            json.loads(out)  # the summary: it finished the job
            return wall, cpu

        def bare_loop() -> tuple[float, float]:
            return run([py, "-c", BARE_LOOP, str(tlog)])[:2]

        def help_() -> tuple[float, float]:
            return run([*rw, "--help"])[:2]

        def bare_click() -> tuple[float, float]:
            return run([py, "-c", "import click"])[:2]

        for warm in (help_, bare_click, analyze, bare_loop):  # bytecode and page cache, as on a used machine
            warm()
        help_runs, click_runs = interleaved(help_, bare_click, args.repeat)
        analyze_runs, loop_runs = interleaved(analyze, bare_loop, args.repeat)
    help_s, help_cpu = medians(help_runs)
    click_s, _ = medians(click_runs)
    analyze_s, analyze_cpu = medians(analyze_runs)
    loop_s, loop_cpu = medians(loop_runs)
    print(json.dumps({
        "bench": "startup",
        "repeat": args.repeat,
        "help_s": round(help_s, 3),
        "help_cpu_s": round(help_cpu, 3),
        "bare_click_s": round(click_s, 3),
        "help_target_s": 0.3,
        "help_ok": help_s <= 0.3,
        "file": tlog.name,
        "analyze_s": round(analyze_s, 3),
        "analyze_cpu_s": round(analyze_cpu, 3),
        "pymavlink_loop_s": round(loop_s, 3),
        "pymavlink_loop_cpu_s": round(loop_cpu, 3),
        "ratio": round(loop_s / analyze_s, 2),
        "ratio_cpu": round(loop_cpu / analyze_cpu, 2),
        "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
