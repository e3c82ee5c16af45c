"""World-track accuracy per scenario, for the closing note: one JSON line per scenario.

Usage: python bench/eval_world.py [--seed N]

Each seeded ground-truth scenario (routewatch.analysis.scenario: 1-4 overlapping fixed cameras, a
handoff with a gap between views, and fixed camera + drone camera + field reports) goes through the
pipeline twice in the same run: with world tracks, and without (today: every sensor track its own
subject) as the baseline. Printed per scenario: alerts per true crossing (target 1.0), true
crossings missed in handoff gaps (target 0), world-id switches per true track (target <= 0.05) and
the mean GOSPA (c = 10 m, p = 2, alpha = 2) of the track estimates, each with the baseline's figure
and with the figure of a perfect association (every observation under its true id: the best any
tracker can do with these observations).
"""

from __future__ import annotations

import argparse
import json
import time

from routewatch.analysis.scenario import generate, handoff, mixed, overlapping
from routewatch.analysis.worldeval import evaluate
from routewatch.config.world import WorldConfig

FIGURES = ("alerts_per_crossing", "missed_in_gaps", "id_switches_per_track", "gospa_m")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=10, help="seed base: overlap-n gets base + n, handoff + 5, mixed + 6")
    a = ap.parse_args()
    specs = [*(overlapping(n, a.seed + n) for n in (1, 2, 3, 4)), handoff(a.seed + 5), mixed(a.seed + 6)]
    for spec in specs:
        sc = generate(spec)
        t = time.perf_counter()
        world = evaluate(sc, WorldConfig(enabled=True))
        elapsed = time.perf_counter() - t
        base = evaluate(sc, None)
        best = evaluate(sc, None, perfect=True)
        row = world.row()
        row["seed"] = spec.seed
        row["baseline"] = {k: base.row()[k] for k in (*FIGURES, "alerts", "missed", "exact")}
        row["perfect_association"] = {k: best.row()[k] for k in (*FIGURES, "alerts", "missed", "exact")}
        row["seconds"] = round(elapsed, 3)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
