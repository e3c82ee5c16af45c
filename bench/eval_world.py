"""World-track accuracy per scenario, for the closing note: one JSON line per scenario.

Usage: python bench/eval_world.py [--seed N] [--seeds K]

Each seeded ground-truth scenario (routewatch.analysis.scenario: 1-4 overlapping fixed cameras, a
handoff with a gap between views, and fixed camera + drone camera + field reports) goes through the
pipeline twice in the same run: with world tracks, and without (today: every sensor track its own
subject) as the baseline. Printed per scenario: alerts per true crossing (target 1.0), true
crossings missed in handoff gaps (target 0), world-id switches per true track (target <= 0.05) and
the mean GOSPA (c = 10 m, p = 2, alpha = 2) of the track estimates, each with the baseline's figure
and with the figure of a perfect association (every observation under its true id: the best any
tracker can do with these observations).

--seeds K (K > 1): the world rows only, over K seed bases (N, N + 10, ...), one JSON line per scenario
kind with the totals (exact runs, alerts per crossing, missed in gaps) and the mean and worst of the
per-run figures: so the tracker is judged on seeds other than the tests' (base 10) too.
"""

from __future__ import annotations

import argparse
import json
import time

from routewatch.analysis.scenario import generate, handoff, mixed, overlapping
from routewatch.analysis.worldeval import Figures, evaluate
from routewatch.config.world import WorldConfig

FIGURES = ("alerts_per_crossing", "missed_in_gaps", "id_switches_per_track", "gospa_m")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=10, help="seed base: overlap-n gets base + n, handoff + 5, mixed + 6")
    ap.add_argument("--seeds", type=int, default=1, help="K > 1: summary over K seed bases, N + 10 k")
    a = ap.parse_args()
    if a.seeds > 1:
        summary([a.seed + 10 * k for k in range(a.seeds)])
        return
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


def summary(bases: list[int]) -> None:
    """One line per scenario kind over the seed bases (world tracks on)."""
    runs: dict[str, list[Figures]] = {}
    for b in bases:
        for spec in [*(overlapping(n, b + n) for n in (1, 2, 3, 4)), handoff(b + 5), mixed(b + 6)]:
            runs.setdefault(spec.name, []).append(evaluate(generate(spec), WorldConfig(enabled=True)))
    for name, fs in runs.items():
        sw = [f.id_switches_per_track for f in fs]
        gospa = [f.gospa_m for f in fs]
        print(json.dumps({
            "scenario": name, "seed_bases": bases, "runs": len(fs), "exact_runs": sum(f.exact for f in fs),
            "alerts_per_crossing": round(sum(f.alerts for f in fs) / max(sum(f.crossings for f in fs), 1), 4),
            "missed": sum(f.missed for f in fs), "missed_in_gaps": sum(f.missed_in_gaps for f in fs),
            "unmatched_alerts": sum(f.unmatched_alerts for f in fs),
            "id_switches_per_track_mean": round(sum(sw) / len(sw), 4), "id_switches_per_track_max": max(sw),
            "id_transfers": sum(f.id_transfers for f in fs),
            "gospa_m_mean": round(sum(gospa) / len(gospa), 3), "gospa_m_max": round(max(gospa), 3)}), flush=True)


if __name__ == "__main__":
    main()
