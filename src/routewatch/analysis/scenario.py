"""Seeded scenarios with ground truth: walkers and vehicles crossing a line and a corridor, seen by sensors.

Pure and deterministic: the same spec gives the same observations, byte for byte. Everything is
built in a local metric frame (x east, y north, metres) around ORIGIN and handed out in lon/lat as
the pipeline receives it. Sensors are fixed cameras (static ground footprints), a drone camera (a
footprint that moves) and field reports (sparse, noisy). Each camera runs its own "image tracker":
local ids like "cam-a/7" that survive short dropouts, start anew after a longer absence, and
sometimes break for no reason (as ByteTrack's do).

>>> sc = generate(overlapping(2, seed=1))
>>> sc == generate(overlapping(2, seed=1))
True
>>> {o.source for o in sc.observations} == {"cam-a", "cam-b"}
True
>>> all(a.time <= b.time for a, b in zip(sc.observations, sc.observations[1:]))
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from routewatch.geo.crs import LocalFrame
from routewatch.model import Corridor, CorridorKind, EventKind, Observation, Role

ORIGIN = (149.16, -35.36)
T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
LINE_ID = "border"
CORRIDOR_ID = "track-7"
LINE_XY = ((0.0, -200.0), (0.0, 200.0))  # a north-south line through the origin
CORRIDOR_XY = ((50.0, -200.0), (50.0, 200.0))  # a corridor's centre-line, 40 m wide: x in [30, 70]
CORRIDOR_WIDTH_M = 40.0
SAMPLE_S = 1.0  # truth is sampled at this step (the metrics' time grid)

# One detection before it becomes an Observation: time (s), source, local id, truth id, x, y (m), sigma (m).
Raw = tuple[float, str, str, str, float, float, float]


@dataclass(frozen=True, slots=True)
class FixedCamera:
    """A fixed camera: a static ground footprint (local metres), its noise, frame rate and tracker flaws."""

    name: str
    footprint: tuple[tuple[float, float], ...]
    sigma_m: float = 3.0
    rate_hz: float = 2.0
    p_detect: float = 0.9  # per frame and object inside the footprint
    p_break: float = 0.002  # per detection: the local tracker starts a new id for no reason
    max_miss_s: float = 2.0  # an object unseen for longer comes back under a new local id


@dataclass(frozen=True, slots=True)
class DroneCamera:
    """A drone's camera: a rectangular footprint whose centre moves (sinusoidal loiter around `centre`)."""

    name: str = "uav1-cam"
    centre: tuple[float, float] = (0.0, 50.0)
    half_size_m: tuple[float, float] = (95.0, 50.0)  # wide enough to hold the corridor (x 30..70) while it sways
    sway_m: tuple[float, float] = (20.0, 10.0)  # amplitude of the loiter in x and y
    period_s: tuple[float, float] = (120.0, 90.0)
    sigma_m: float = 6.0
    rate_hz: float = 2.0
    p_detect: float = 0.85
    p_break: float = 0.01
    max_miss_s: float = 3.0

    def footprint_at(self, t_s: float) -> Polygon:
        """The ground footprint at t_s seconds into the scenario."""
        cx = self.centre[0] + self.sway_m[0] * math.sin(2 * math.pi * t_s / self.period_s[0])
        cy = self.centre[1] + self.sway_m[1] * math.cos(2 * math.pi * t_s / self.period_s[1])
        hx, hy = self.half_size_m
        return box(cx - hx, cy - hy, cx + hx, cy + hy)


@dataclass(frozen=True, slots=True)
class FieldReports:
    """Position reports by a patrol (pos.v1-like, role TARGET): one local id per reported target."""

    name: str = "patrol"
    sigma_m: float = 10.0
    interval_s: tuple[float, float] = (20.0, 40.0)
    fraction: float = 0.5  # of the true tracks, the share the patrol reports on


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """What to generate; see the presets below (overlapping, handoff, mixed)."""

    name: str
    seed: int
    cameras: tuple[FixedCamera, ...]
    walkers: int = 14
    vehicles: int = 6
    duration_s: float = 600.0
    drone: DroneCamera | None = None
    reports: FieldReports | None = None
    min_separation_m: float = 20.0  # movers never come closer (dense crowds are not what this measures)
    y_range_m: tuple[float, float] = (-80.0, 80.0)


@dataclass(frozen=True, slots=True)
class TruthTrack:
    """One real walker or vehicle: a straight path at constant speed, and its samples every SAMPLE_S."""

    id: str
    subject_class: str
    start_s: float
    end_s: float
    x0: float
    y0: float
    vx: float
    vy: float
    samples: tuple[tuple[datetime, float, float], ...] = field(repr=False)  # (time, lon, lat)

    def xy(self, t_s: float) -> tuple[float, float]:
        """Position (local metres) at t_s seconds into the scenario (on its path, clamped to its life)."""
        t = min(max(t_s, self.start_s), self.end_s) - self.start_s
        return self.x0 + self.vx * t, self.y0 + self.vy * t

    def alive(self, t_s: float) -> bool:
        """Whether the track exists at t_s."""
        return self.start_s <= t_s <= self.end_s


@dataclass(frozen=True, slots=True)
class TrueCrossing:
    """A true event: a line crossed (kind CROSS) or a corridor entered (kind ENTER), from the truth path.

    `in_gap`: no camera's footprint covered the place at that time (a handoff gap). `witnesses`: the
    local sensor tracks that saw the object well clear on both sides of a line (or well inside a
    corridor): without world tracks, each of them raises its own alert.
    """

    truth_id: str
    corridor_id: str
    kind: EventKind
    time: datetime
    x: float
    y: float
    in_gap: bool
    witnesses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Scenario:
    """Observations (time-ordered) with the truth that made each (`origins`, parallel to them)."""

    spec: ScenarioSpec
    frame: LocalFrame = field(repr=False, compare=False)
    observations: tuple[Observation, ...] = field(repr=False)
    origins: tuple[str, ...] = field(repr=False)
    truth: tuple[TruthTrack, ...] = field(repr=False)
    corridors: tuple[Corridor, ...] = field(repr=False, compare=False)
    crossings: tuple[TrueCrossing, ...]

    def at(self, t_s: float) -> datetime:
        """The event time t_s seconds into the scenario."""
        return T0 + timedelta(seconds=t_s)


WITNESS_CLEAR_M = 15.0  # a sensor track counts as a witness when seen this far on both sides (hysteresis + noise)


def generate(spec: ScenarioSpec) -> Scenario:
    """Build the scenario of `spec` (deterministic in spec.seed)."""
    rng = np.random.default_rng(spec.seed)
    frame = LocalFrame(*ORIGIN)
    truth = _movers(spec, rng, frame)
    raw: list[Raw] = []
    for cam in spec.cameras:
        raw.extend(_camera(cam, _static(Polygon(cam.footprint)), spec, truth, rng))
    if spec.drone is not None:
        raw.extend(_camera(spec.drone, spec.drone.footprint_at, spec, truth, rng))
    if spec.reports is not None:
        raw.extend(_reports(spec.reports, truth, rng))
    raw.sort(key=lambda r: (round(r[0], 3), r[1], r[2]))
    classes = {t.id: t.subject_class for t in truth}
    obs: list[Observation] = []
    for t, src, local, tid, x, y, sigma in raw:
        lon, lat = frame.lonlat(x, y)
        cls = classes[tid]
        if src == (spec.reports.name if spec.reports else None) and cls == "car":
            cls = "vehicle"  # a patrol says "vehicle", a camera's detector "car": the tracker must know both
        obs.append(Observation(local, T0 + timedelta(milliseconds=round(t * 1000)), lon, lat,
                               subject_class=cls, role=Role.TARGET, confidence=0.9, source=src, accuracy_m=sigma))
    corridors = (
        Corridor(LINE_ID, LineString([frame.lonlat(*p) for p in LINE_XY]), kind=CorridorKind.LINE, name="border"),
        Corridor(CORRIDOR_ID, LineString([frame.lonlat(*p) for p in CORRIDOR_XY]), kind=CorridorKind.CORRIDOR,
                 width_m=CORRIDOR_WIDTH_M, name="track 7"),
    )
    crossings = _crossings(spec, truth, raw)
    return Scenario(spec, frame, tuple(obs), tuple(r[3] for r in raw), tuple(truth), corridors, crossings)


def _movers(spec: ScenarioSpec, rng: np.random.Generator, frame: LocalFrame) -> list[TruthTrack]:
    """Straight east- or westbound paths across x = -130..130, kept min_separation_m apart."""
    out: list[TruthTrack] = []
    kinds = [("walker", "person", 1.0, 1.8)] * spec.walkers + [("vehicle", "car", 5.0, 15.0)] * spec.vehicles
    for n, (label, cls, vmin, vmax) in enumerate(kinds):
        for _ in range(1000):  # rejection sampling; these densities accept within a few tries
            speed = float(rng.uniform(vmin, vmax))
            sign = 1.0 if rng.random() < 0.5 else -1.0
            y0 = float(rng.uniform(*spec.y_range_m))
            y1 = float(np.clip(y0 + rng.uniform(-30.0, 30.0), *spec.y_range_m))
            length = math.hypot(260.0, y1 - y0)
            life = length / speed
            start = float(rng.uniform(0.0, max(spec.duration_s - life, 1.0)))
            vx, vy = sign * 260.0 / life, (y1 - y0) / life
            cand = TruthTrack(f"{label}-{n}", cls, start, start + life, -130.0 * sign, y0, vx, vy, ())
            if all(_min_distance(cand, o) >= spec.min_separation_m for o in out):
                break
        else:
            raise ValueError(f"scenario {spec.name}: no room for {label}-{n} at {spec.min_separation_m} m apart")
        steps = np.arange(math.ceil(cand.start_s / SAMPLE_S), math.floor(cand.end_s / SAMPLE_S) + 1) * SAMPLE_S
        samples = tuple((T0 + timedelta(seconds=float(t)), *frame.lonlat(*cand.xy(float(t)))) for t in steps)
        out.append(TruthTrack(cand.id, cls, cand.start_s, cand.end_s, cand.x0, cand.y0, vx, vy, samples))
    return out


def _static(poly: Polygon) -> Callable[[float], Polygon]:
    """A footprint that does not move."""
    return lambda _t: poly


def _min_distance(a: TruthTrack, b: TruthTrack) -> float:
    lo, hi = max(a.start_s, b.start_s), min(a.end_s, b.end_s)
    if lo > hi:
        return math.inf
    ts = np.linspace(lo, hi, 200)
    return min(math.dist(a.xy(float(t)), b.xy(float(t))) for t in ts)


def _camera(cam: FixedCamera | DroneCamera, footprint_at: Callable[[float], Polygon], spec: ScenarioSpec,
            truth: list[TruthTrack], rng: np.random.Generator) -> list[Raw]:
    """One camera's detections with its local tracker's ids (new id after a miss > max_miss_s, or a break)."""
    name, sigma, rate_hz = cam.name, cam.sigma_m, cam.rate_hz
    out: list[Raw] = []
    phase = float(rng.uniform(0.0, 1.0 / rate_hz))
    local: dict[str, tuple[str, float]] = {}  # truth id -> (local id, last seen)
    counter = 0
    for k in range(int(spec.duration_s * rate_hz)):
        t = phase + k / rate_hz
        poly = footprint_at(t)
        for tr in truth:
            if not tr.alive(t):
                continue
            x, y = tr.xy(t)
            if not poly.contains(Point(x, y)) or rng.random() >= cam.p_detect:
                continue
            cur = local.get(tr.id)
            if cur is None or t - cur[1] > cam.max_miss_s or rng.random() < cam.p_break:
                counter += 1
                cur = (f"{name}/{counter}", t)
            local[tr.id] = (cur[0], t)
            nx, ny = rng.normal(0.0, sigma, 2)
            out.append((t, name, cur[0], tr.id, x + float(nx), y + float(ny), sigma))
    return out


def _reports(rep: FieldReports, truth: list[TruthTrack], rng: np.random.Generator) -> list[Raw]:
    out: list[Raw] = []
    for n, tr in enumerate(truth):
        if rng.random() >= rep.fraction:
            continue
        t = tr.start_s + float(rng.uniform(*rep.interval_s)) / 2.0
        while t <= tr.end_s:
            x, y = tr.xy(t)
            nx, ny = rng.normal(0.0, rep.sigma_m, 2)
            out.append((t, rep.name, f"{rep.name}/t{n}", tr.id, x + float(nx), y + float(ny), rep.sigma_m))
            t += float(rng.uniform(*rep.interval_s))
    return out


def _crossings(spec: ScenarioSpec, truth: list[TruthTrack], raw: list[Raw]) -> tuple[TrueCrossing, ...]:
    """Line crossings and corridor entries of each truth path, with gap flag and witnesses."""
    line = LineString(LINE_XY)
    corr = LineString(CORRIDOR_XY).buffer(CORRIDOR_WIDTH_M / 2.0, cap_style="flat")
    tracks: dict[str, list[tuple[float, float, float]]] = {}  # local id -> true (t, x, y) of its detections
    truth_of: dict[str, str] = {}
    by_id = {m.id: m for m in truth}
    for t, _src, local, tid, _x, _y, _s in raw:
        tr = by_id[tid]
        tracks.setdefault(local, []).append((t, *tr.xy(t)))
        truth_of[local] = tid
    out: list[TrueCrossing] = []
    for tr in truth:
        path = LineString([tr.xy(tr.start_s), tr.xy(tr.end_s)])
        speed = math.hypot(tr.vx, tr.vy)
        for cid, kind, geom in ((LINE_ID, EventKind.CROSS, line), (CORRIDOR_ID, EventKind.ENTER, corr)):
            hit = path.intersection(geom if kind is EventKind.CROSS else geom.exterior)
            if hit.is_empty:
                continue
            s = min(path.project(Point(p)) for p in _points(hit))
            t = tr.start_s + s / speed
            x, y = tr.xy(t)
            mine = {loc: pts for loc, pts in tracks.items() if truth_of[loc] == tr.id}
            if kind is EventKind.CROSS:
                wit = [loc for loc, pts in mine.items()
                       if min(p[1] for p in pts) <= -WITNESS_CLEAR_M and max(p[1] for p in pts) >= WITNESS_CLEAR_M]
            else:
                inner = corr.buffer(-5.0)
                wit = [loc for loc, pts in mine.items() if sum(inner.contains(Point(p[1], p[2])) for p in pts) >= 3]
            out.append(TrueCrossing(tr.id, cid, kind, T0 + timedelta(seconds=t), x, y,
                                    not _covered(spec, t, x, y), tuple(sorted(wit))))
    return tuple(sorted(out, key=lambda c: (c.time, c.truth_id, c.corridor_id)))


def _points(geom: BaseGeometry) -> list[tuple[float, float]]:
    if geom.geom_type == "Point":
        return [(geom.x, geom.y)]
    return [p for g in geom.geoms for p in _points(g)]


def _covered(spec: ScenarioSpec, t: float, x: float, y: float) -> bool:
    """Whether some camera's footprint holds (x, y) at t."""
    p = Point(x, y)
    if any(Polygon(c.footprint).contains(p) for c in spec.cameras):
        return True
    return spec.drone is not None and spec.drone.footprint_at(t).contains(p)


def _rect(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def overlapping(n_cameras: int, seed: int = 0, *, breaks: bool = True) -> ScenarioSpec:
    """1-4 fixed cameras whose footprints all cover the line and the corridor (offset from one another).

    breaks=False: each camera's tracker keeps one id per pass (no breaks, dropouts bridged), so each
    camera is one witness of each crossing: the clean case for counting today's duplicate alerts.
    """
    if not 1 <= n_cameras <= 4:
        raise ValueError(f"overlapping scenarios have 1 to 4 cameras, not {n_cameras}")
    cams = []
    for i in range(n_cameras):
        dx, dy = (-6.0, 4.0, 8.0, -3.0)[i], (5.0, -7.0, 3.0, 9.0)[i]
        cams.append(FixedCamera(f"cam-{'abcd'[i]}", _rect(-105 + dx, -100 + dy, 100 + dx, 100 + dy),
                                sigma_m=(2.0, 3.0, 4.0, 2.5)[i], p_break=0.002 if breaks else 0.0,
                                max_miss_s=2.0 if breaks else 60.0))
    return ScenarioSpec(f"overlap-{n_cameras}{'' if breaks else '-nobreaks'}", seed, tuple(cams))


def handoff(seed: int = 0, gap_m: float = 8.0) -> ScenarioSpec:
    """Two cameras side by side with a gap of gap_m between their views, the line in the gap."""
    a = FixedCamera("cam-a", _rect(-110.0, -100.0, -gap_m / 2, 100.0), sigma_m=3.0)
    b = FixedCamera("cam-b", _rect(gap_m / 2, -100.0, 110.0, 100.0), sigma_m=3.0)
    return ScenarioSpec(f"handoff-{gap_m:g}m", seed, (a, b))


def mixed(seed: int = 0) -> ScenarioSpec:
    """A fixed camera over the south half, a drone camera over the north half, and field reports."""
    cam = FixedCamera("cam-a", _rect(-105.0, -100.0, 100.0, 10.0), sigma_m=3.0)
    return ScenarioSpec("mixed", seed, (cam,), drone=DroneCamera(), reports=FieldReports())
