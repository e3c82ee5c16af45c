"""Run a ground-truth scenario through the pipeline (with or without world tracks) and score it.

The alerts come from the real Pipeline; the track estimates for GOSPA and id switches from the
same tracker the pipeline uses (WorldTracker with the same config), or, without world tracks, from
the sensor tracks themselves (each local id its own subject, as the pipeline then sees them).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from routewatch.analysis.scenario import SAMPLE_S, T0, Scenario
from routewatch.analysis.trackmetrics import (
    XY,
    AlertAt,
    AlertMatch,
    Crossing,
    id_switches,
    id_transfers,
    match_alerts,
    mean_gospa,
)
from routewatch.config.engine import AlertsConfig, EngineConfig
from routewatch.config.world import WorldConfig
from routewatch.model import Alert, Change, Observation
from routewatch.pipeline.core import Pipeline
from routewatch.tracking.world import TrackState, WorldTracker

GOSPA_C_M = 10.0  # an estimate farther than this from a truth is a miss plus a false track
MATCH_WINDOW_S = 30.0  # an alert belongs to a true crossing within this time ...
MATCH_RADIUS_M = 40.0  # ... and this distance (engine hysteresis and confirmation delays fit well inside)


@dataclass(frozen=True, slots=True)
class Figures:
    """A scenario's accuracy figures (the closing note's table row)."""

    scenario: str
    world: bool
    observations: int
    true_tracks: int
    crossings: int
    gap_crossings: int
    alerts: int
    alerts_per_crossing: float
    exact: bool  # every true crossing has exactly one alert and no alert is unexplained
    missed: int
    missed_in_gaps: int
    unmatched_alerts: int
    id_switches: int
    id_switches_per_track: float
    id_transfers: int  # a track id handed from one true thing to another (a false handoff)
    gospa_m: float
    tracks: int  # distinct (world or sensor) track ids that reached the output
    match: AlertMatch
    alert_subjects: dict[str, str]  # alert id -> subject id
    alert_sensors: dict[str, tuple[str, ...]]  # alert id -> the sensors that saw it (world tracks only)

    def row(self) -> dict[str, object]:
        """The JSON-able figures (no per-alert detail)."""
        return {"scenario": self.scenario, "world": self.world, "observations": self.observations,
                "true_tracks": self.true_tracks, "crossings": self.crossings, "gap_crossings": self.gap_crossings,
                "alerts": self.alerts, "alerts_per_crossing": round(self.alerts_per_crossing, 4),
                "exact": self.exact, "missed": self.missed, "missed_in_gaps": self.missed_in_gaps,
                "unmatched_alerts": self.unmatched_alerts, "id_switches": self.id_switches,
                "id_switches_per_track": round(self.id_switches_per_track, 4),
                "id_transfers": self.id_transfers, "gospa_m": round(self.gospa_m, 3),
                "tracks": self.tracks}


def crossing_key(truth_id: str, corridor_id: str) -> str:
    """The key of a true crossing in an AlertMatch."""
    return f"{truth_id}|{corridor_id}"


def oracle(sc: Scenario) -> tuple[Observation, ...]:
    """The observations with perfect association: each one's subject is the true id that made it.

    Run without world tracks, this is the best any tracker can do with these observations: the
    scenario's targets are reachable when the oracle reaches them.
    """
    return tuple(dataclasses.replace(o, subject_id=tid) for o, tid in zip(sc.observations, sc.origins, strict=True))


def run_alerts(sc: Scenario, world: WorldConfig | None, observations: Sequence[Observation] | None = None,
               ) -> list[Alert]:
    """The alerts the pipeline opens on the scenario (as opened), world tracks on when `world` is given."""
    eng, al = EngineConfig(), AlertsConfig()
    pipe = Pipeline(sc.corridors, eng, al) if world is None else Pipeline(sc.corridors, eng, al, world=world)
    changes = pipe.feed_many(sc.observations if observations is None else observations) + pipe.finish()
    return [c.alert for c in changes if c.change is Change.OPENED]


def _seconds(t: datetime) -> float:
    return (t - T0).total_seconds()


def estimates(sc: Scenario, world: WorldConfig | None, observations: Sequence[Observation] | None = None,
              ) -> list[tuple[float, str, float, float, float, float]]:
    """Track outputs as (t, id, x, y, vx, vy): confirmed world-track estimates, or the raw sensor tracks."""
    out: list[tuple[float, str, float, float, float, float]] = []
    if world is None:
        for o in sc.observations if observations is None else observations:
            out.append((_seconds(o.time), o.subject_id, *sc.frame.xy(o.lon, o.lat), 0.0, 0.0))
        return out
    for u in WorldTracker(world).update(sc.observations):
        if u.state is TrackState.TENTATIVE:
            continue  # not yet a track anyone sees
        e = u.observation
        vx, vy = _velocity(e)
        out.append((_seconds(e.time), u.world_id, *sc.frame.xy(e.lon, e.lat), vx, vy))
    return out


def _velocity(o: Observation) -> tuple[float, float]:
    if o.speed_m_s is None or o.heading_deg is None:
        return 0.0, 0.0
    h = math.radians(o.heading_deg)
    return o.speed_m_s * math.sin(h), o.speed_m_s * math.cos(h)


def steps(sc: Scenario, est: Iterable[tuple[float, str, float, float, float, float]]
          ) -> list[tuple[dict[str, XY], dict[str, XY]]]:
    """Per SAMPLE_S step t: truths observed in (t - SAMPLE_S, t] at their true place, and each track's latest
    output in the same window, carried to t by its velocity."""
    n = math.ceil(sc.spec.duration_s / SAMPLE_S) + 1
    seen: list[set[str]] = [set() for _ in range(n)]
    for o, tid in zip(sc.observations, sc.origins, strict=True):
        seen[min(math.ceil(_seconds(o.time) / SAMPLE_S), n - 1)].add(tid)
    latest: list[dict[str, tuple[float, float, float, float, float]]] = [{} for _ in range(n)]
    for t, wid, x, y, vx, vy in est:
        latest[min(math.ceil(t / SAMPLE_S), n - 1)][wid] = (t, x, y, vx, vy)
    truth = {t.id: t for t in sc.truth}
    out = []
    for k in range(n):
        tk = k * SAMPLE_S
        tr = {tid: truth[tid].xy(tk) for tid in sorted(seen[k])}
        es = {wid: (x + vx * (tk - t), y + vy * (tk - t)) for wid, (t, x, y, vx, vy) in sorted(latest[k].items())}
        out.append((tr, es))
    return out


def evaluate(sc: Scenario, world: WorldConfig | None, *, perfect: bool = False) -> Figures:
    """All figures of one scenario; `world` None runs today's pipeline (every sensor track its own subject).

    perfect=True (with world None): the oracle's figures, every observation under its true id.
    """
    if perfect and world is not None:
        raise ValueError("the perfect association replaces the world tracker: pass world=None")
    obs = oracle(sc) if perfect else None
    opened = run_alerts(sc, world, obs)
    crossings = [Crossing(crossing_key(c.truth_id, c.corridor_id), c.corridor_id, c.kind.value, _seconds(c.time),
                          c.x, c.y) for c in sc.crossings]
    found = [AlertAt(a.id, a.corridor_id, a.kind.value, _seconds(a.opened_at), *sc.frame.xy(a.lon, a.lat))
             for a in opened]
    match = match_alerts(crossings, found, MATCH_WINDOW_S, MATCH_RADIUS_M)
    gaps = [crossing_key(c.truth_id, c.corridor_id) for c in sc.crossings if c.in_gap]
    est = estimates(sc, world, obs)
    grid = steps(sc, est)
    switches = id_switches(grid, GOSPA_C_M)
    n_sw = sum(switches.values())
    return Figures(
        sc.spec.name + (" (perfect association)" if perfect else ""), world is not None, len(sc.observations),
        len(sc.truth), len(crossings), len(gaps),
        len(opened), match.alerts_per_crossing,
        all(len(v) == 1 for v in match.per_crossing.values()) and not match.unmatched,
        match.missed(), match.missed(gaps), len(match.unmatched), n_sw, n_sw / max(len(sc.truth), 1),
        sum(id_transfers(grid, GOSPA_C_M).values()),
        mean_gospa([(list(t.values()), list(e.values())) for t, e in grid], GOSPA_C_M),
        len({e[1] for e in est}), match, {a.id: a.subject_id for a in opened},
        {a.id: tuple(getattr(a, "sensors", ())) for a in opened})


def evaluate_all(scenarios: Sequence[Scenario], world: WorldConfig | None) -> list[Figures]:
    """evaluate() for each scenario."""
    return [evaluate(sc, world) for sc in scenarios]
