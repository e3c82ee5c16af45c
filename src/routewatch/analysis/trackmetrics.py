"""Tracking accuracy against ground truth: GOSPA, identity switches, alerts per true crossing.

Pure: positions are local metres (x, y), times are seconds; the caller converts. GOSPA is the
generalised optimal sub-pattern assignment metric (Rahmathullah, Garcia-Fernandez, Svensson 2017)
with alpha = 2, so it splits into localisation error, missed truths and false estimates; the
assignment is scipy.optimize.linear_sum_assignment on min(d, c)^p.

>>> gospa([(0.0, 0.0)], [(3.0, 4.0)], c=10.0).distance
5.0
>>> g = gospa([(0.0, 0.0), (50.0, 0.0)], [(0.0, 0.0)], c=10.0)  # one truth missed: c / 2**(1/p)
>>> round(g.distance, 4), g.missed, g.false
(7.0711, 1, 0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

XY = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Gospa:
    """One GOSPA value and its parts (alpha = 2): distance = (loc + (c^p / 2) (missed + false)) ** (1 / p)."""

    distance: float
    localisation: float  # sum of d^p over assigned pairs (d < c)
    missed: int
    false: int


def _pairs(truth: Sequence[XY], est: Sequence[XY], c: float, p: float) -> list[tuple[int, int, float]]:
    """Optimal (truth index, estimate index, distance) pairs closer than c."""
    if not truth or not est:
        return []
    t = np.asarray(truth, dtype=np.float64).reshape(-1, 2)
    e = np.asarray(est, dtype=np.float64).reshape(-1, 2)
    d = np.hypot(t[:, None, 0] - e[None, :, 0], t[:, None, 1] - e[None, :, 1])
    rows, cols = linear_sum_assignment(np.minimum(d, c) ** p)
    return [(int(i), int(j), float(d[i, j])) for i, j in zip(rows, cols, strict=True) if d[i, j] < c]


def gospa(truth: Sequence[XY], est: Sequence[XY], c: float, p: float = 2.0) -> Gospa:
    """GOSPA (alpha = 2) between a set of true positions and a set of estimates at one time.

    >>> gospa([], [], c=10.0)
    Gospa(distance=0.0, localisation=0.0, missed=0, false=0)
    >>> gospa([], [(1.0, 1.0)], c=10.0, p=1).distance  # a false estimate costs c / 2
    5.0
    """
    if not c > 0 or p not in (1, 2):
        raise ValueError(f"GOSPA needs c > 0 and p in (1, 2), got c={c}, p={p}")
    pairs = _pairs(truth, est, c, p)
    loc = float(sum(d**p for _, _, d in pairs))
    missed, false = len(truth) - len(pairs), len(est) - len(pairs)
    return Gospa((loc + c**p / 2.0 * (missed + false)) ** (1.0 / p), loc, missed, false)


def mean_gospa(steps: Sequence[tuple[Sequence[XY], Sequence[XY]]], c: float, p: float = 2.0) -> float:
    """GOSPA averaged over time steps of (truth, estimates); 0.0 for no steps.

    >>> mean_gospa([([(0.0, 0.0)], [(0.0, 1.0)]), ([(0.0, 0.0)], [(0.0, 3.0)])], c=10.0)
    2.0
    """
    if not steps:
        return 0.0
    return sum(gospa(t, e, c, p).distance for t, e in steps) / len(steps)


def correspondences(steps: Sequence[tuple[Mapping[str, XY], Mapping[str, XY]]], c: float) -> list[dict[str, str]]:
    """Per step, truth id -> estimate id, by the CLEAR MOT rule.

    A truth keeps its previous estimate while that estimate is present and within c metres; the
    other truths and estimates are assigned optimally within c.

    >>> a = {"t1": (0.0, 0.0)}
    >>> correspondences([(a, {"w1": (4.0, 0.0)}), (a, {"w1": (4.0, 0.0), "w2": (0.0, 0.0)}), (a, {})], c=5.0)
    [{'t1': 'w1'}, {'t1': 'w1'}, {}]
    """
    last: dict[str, str] = {}
    out: list[dict[str, str]] = []
    for truths, ests in steps:
        kept: dict[str, str] = {}
        for tid in sorted(truths):
            eid = last.get(tid)
            if eid is not None and eid in ests and eid not in kept.values() and math.dist(truths[tid], ests[eid]) < c:
                kept[tid] = eid
        tids = sorted(t for t in truths if t not in kept)
        eids = sorted(e for e in ests if e not in kept.values())
        for i, j, _ in _pairs([truths[k] for k in tids], [ests[k] for k in eids], c, 1.0):
            kept[tids[i]] = eids[j]
        last.update(kept)
        out.append(kept)
    return out


def id_switches(steps: Sequence[tuple[Mapping[str, XY], Mapping[str, XY]]], c: float) -> dict[str, int]:
    """Per true track: how often the estimate id assigned to it changed (see `correspondences`).

    A truth with no estimate in a step keeps its last id, so a gap and a return under the same id
    is no switch, under another id one. Every truth that appears in a step has an entry.

    >>> a = {"t1": (0.0, 0.0)}
    >>> id_switches([(a, {"w1": (1.0, 0.0)}), (a, {}), (a, {"w1": (0.5, 0.0)}), (a, {"w2": (0.0, 1.0)})], c=5.0)
    {'t1': 1}
    """
    out = {tid: 0 for truths, _ in steps for tid in truths}
    last: dict[str, str] = {}
    for step in correspondences(steps, c):
        for tid, eid in step.items():
            if last.get(tid, eid) != eid:
                out[tid] += 1
            last[tid] = eid
    return out


def id_transfers(steps: Sequence[tuple[Mapping[str, XY], Mapping[str, XY]]], c: float) -> dict[str, int]:
    """Per estimate id: how often the truth it is assigned to changed (one id handed on to another thing).

    The mirror of `id_switches`: a tracker that lets a new object take over a lost track's id
    scores no switch for the newcomer (its first id), but one transfer here.

    >>> a, b = {"t1": (0.0, 0.0)}, {"t2": (30.0, 0.0)}
    >>> id_transfers([(a, {"w1": (0.0, 0.0)}), (b, {"w1": (30.0, 0.0)}), (b, {"w1": (30.0, 0.0)})], c=5.0)
    {'w1': 1}
    """
    out = {eid: 0 for _, ests in steps for eid in ests}
    last: dict[str, str] = {}
    for step in correspondences(steps, c):
        for tid, eid in step.items():
            if last.get(eid, tid) != tid:
                out[eid] += 1
            last[eid] = tid
    return out


@dataclass(frozen=True, slots=True)
class Crossing:
    """A true event to be alerted on: which geofence, which kind, when (s) and where (m); `key` names it."""

    key: str
    corridor_id: str
    kind: str
    t: float
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class AlertAt:
    """An alert as the metrics see it: geofence, kind, opening time (s), place (m) and its id."""

    id: str
    corridor_id: str
    kind: str
    t: float
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class AlertMatch:
    """Alerts attributed to each true crossing, and the alerts no true crossing explains."""

    per_crossing: dict[str, tuple[str, ...]]  # crossing key -> alert ids
    unmatched: tuple[str, ...]

    @property
    def alerts_per_crossing(self) -> float:
        """Matched plus unmatched alerts over true crossings (exactly 1.0 is the target; nan if none)."""
        n = len(self.per_crossing)
        if n == 0:
            return math.nan
        return (sum(len(v) for v in self.per_crossing.values()) + len(self.unmatched)) / n

    def missed(self, keys: Sequence[str] | None = None) -> int:
        """Crossings (all, or those named) with no alert."""
        ks = self.per_crossing if keys is None else keys
        return sum(1 for k in ks if not self.per_crossing[k])


def match_alerts(crossings: Sequence[Crossing], alerts: Sequence[AlertAt], window_s: float,
                 radius_m: float) -> AlertMatch:
    """Attribute each alert to the nearest true crossing of its geofence and kind.

    Nearest in the normalised distance |dt| / window_s + distance / radius_m, among crossings
    within both; an alert with none is unmatched (a false or duplicate-elsewhere alert). Several
    alerts may go to one crossing: that is the duplication this measures.

    >>> x = [Crossing("c1", "border", "cross", 10.0, 0.0, 0.0)]
    >>> m = match_alerts(x, [AlertAt("a1", "border", "cross", 11.0, 1.0, 0.0),
    ...                      AlertAt("a2", "border", "cross", 12.0, 0.0, 2.0),
    ...                      AlertAt("a3", "border", "cross", 90.0, 0.0, 0.0)], window_s=20.0, radius_m=30.0)
    >>> m.per_crossing, m.unmatched, m.alerts_per_crossing
    ({'c1': ('a1', 'a2')}, ('a3',), 3.0)
    """
    if window_s <= 0 or radius_m <= 0:
        raise ValueError(f"window_s and radius_m must be > 0, got {window_s}, {radius_m}")
    keys = [c.key for c in crossings]
    if len(set(keys)) != len(keys):
        raise ValueError("crossing keys must be unique")
    per: dict[str, list[str]] = {k: [] for k in keys}
    unmatched: list[str] = []
    for a in sorted(alerts, key=lambda a: (a.t, a.id)):
        best: tuple[float, str] | None = None
        for c in crossings:
            if c.corridor_id != a.corridor_id or c.kind != a.kind:
                continue
            dt, dist = abs(a.t - c.t), math.hypot(a.x - c.x, a.y - c.y)
            if dt <= window_s and dist <= radius_m:
                score = (dt / window_s + dist / radius_m, c.key)
                best = score if best is None or score < best else best
        if best is None:
            unmatched.append(a.id)
        else:
            per[best[1]].append(a.id)
    return AlertMatch({k: tuple(v) for k, v in per.items()}, tuple(unmatched))
