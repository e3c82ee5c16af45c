"""Patrols to replay: drone sorties cut from stored fixes, the cameras that saw each, and area boxes. Pure.

A sortie is a run of one patrol asset's fixes with no gap longer than `max_gap` between two of
them (a drone landed, or its link went quiet, for longer than that). The cameras of a sortie:
- `following`: drone cameras whose sampled footprints lay near the drone while it flew (a camera
  carried by another drone in the air at the same time lies elsewhere, so time overlap is not enough);
- `seen_by`: fixed cameras whose footprint held one of its fixes while that footprint was in force.

    >>> from datetime import UTC, datetime, timedelta
    >>> from routewatch.model import Observation, Role
    >>> t0 = datetime(2026, 5, 1, tzinfo=UTC)
    >>> fixes = [Observation("uav/1", t0 + timedelta(seconds=s), 5.0, 52.0, role=Role.PATROL) for s in (0, 1, 500)]
    >>> [(s.drone, s.count) for s in sorties(fixes)]
    [('uav/1', 2), ('uav/1', 1)]
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point

from routewatch.geo.bbox import BBox
from routewatch.geo.footprint import Footprint
from routewatch.model import Observation

DEFAULT_GAP = timedelta(seconds=120)
# A drone camera's footprint this close to the drone (metres, on the ground) counts as the drone's own.
NEAR_M = 1500.0
# A footprint sample is matched to the drone's fix nearest in time only when that fix is this close in time.
MATCH_DT = timedelta(seconds=10)
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0
_ORIGIN = Point(0.0, 0.0)


class PatrolError(ValueError):
    """Input a patrol cannot be made of; the message says why."""


@dataclass(frozen=True, slots=True)
class Sortie:
    """One patrol asset's run of fixes (oldest first) with no gap longer than the threshold."""

    drone: str
    subject_class: str
    fixes: tuple[Observation, ...] = field(repr=False)

    @property
    def start(self) -> datetime:
        """The time of its first fix."""
        return self.fixes[0].time

    @property
    def end(self) -> datetime:
        """The time of its last fix."""
        return self.fixes[-1].time

    @property
    def count(self) -> int:
        """How many fixes it has."""
        return len(self.fixes)

    @property
    def bbox(self) -> BBox:
        """The box of its fixes."""
        lons = [f.lon for f in self.fixes]
        lats = [f.lat for f in self.fixes]
        return BBox(min(lons), min(lats), max(lons), max(lats))

    def touches(self, area: BBox) -> bool:
        """Whether some fix of it lies in `area`."""
        return any(area.contains(f.lon, f.lat) for f in self.fixes)


def sorties(fixes: Iterable[Observation], max_gap: timedelta = DEFAULT_GAP) -> list[Sortie]:
    """The sorties in `fixes`, by (start, drone).

    Each subject's fixes must come in time order (as the store gives them); PatrolError otherwise,
    and when `max_gap` is not positive. Fixes of any role are taken: pass only the patrol assets'.
    """
    if max_gap <= timedelta(0):
        raise PatrolError(f"the gap between sorties must be positive, got {max_gap}")
    runs: dict[str, list[list[Observation]]] = {}
    for fix in fixes:
        mine = runs.setdefault(fix.subject_id, [])
        if mine:
            last = mine[-1][-1]
            if fix.time < last.time:
                raise PatrolError(f"fixes of {fix.subject_id} are not in time order: "
                                  f"{fix.time.isoformat()} after {last.time.isoformat()}")
            if fix.time - last.time <= max_gap:
                mine[-1].append(fix)
                continue
        mine.append([fix])
    out = [Sortie(drone, run[0].subject_class, tuple(run)) for drone, rs in runs.items() for run in rs]
    return sorted(out, key=lambda s: (s.start, s.drone))


def _metres(lon0: float, lat0: float) -> npt.NDArray[np.float64]:
    return np.array([_M_PER_DEG_LON * math.cos(math.radians(lat0)), _M_PER_DEG_LAT])


def distance_m(fp: Footprint, lon: float, lat: float) -> float:
    """Ground distance (m, local flat approximation) from (lon, lat) to the footprint polygon (0 inside it)."""
    scale, origin = _metres(lon, lat), np.array([lon, lat])
    local = shapely.transform(fp.polygon, lambda xy: (xy - origin) * scale)
    return float(local.distance(_ORIGIN))


def _nearest(times: Sequence[datetime], t: datetime) -> int:
    """The index of the time in (sorted, non-empty) `times` nearest to `t`."""
    i = bisect.bisect_left(times, t)
    if i == 0:
        return 0
    if i == len(times):
        return i - 1
    return i if times[i] - t < t - times[i - 1] else i - 1


def following(sortie: Sortie, footprints: Iterable[Footprint], near_m: float = NEAR_M) -> tuple[str, ...]:
    """Drone cameras that followed the sortie, those with more matching footprints first (then by name).

    A drone camera's footprint sample overlapping the sortie matches when the drone's fix nearest
    to the sample's start (within MATCH_DT) is within `near_m` of it; a camera follows when at
    least half of its samples overlapping the sortie match.
    """
    times = [f.time for f in sortie.fixes]
    seen: Counter[str] = Counter()
    near: Counter[str] = Counter()
    for fp in footprints:
        if fp.kind != "drone" or fp.end < sortie.start or fp.start > sortie.end:
            continue
        seen[fp.camera] += 1
        fix = sortie.fixes[_nearest(times, fp.start)]
        if abs(fix.time - fp.start) <= MATCH_DT and distance_m(fp, fix.lon, fix.lat) <= near_m:
            near[fp.camera] += 1
    kept = [c for c in seen if near[c] and 2 * near[c] >= seen[c]]
    return tuple(sorted(kept, key=lambda c: (-near[c], c)))


def seen_by(sortie: Sortie, footprints: Iterable[Footprint]) -> tuple[str, ...]:
    """Fixed cameras whose footprint held a fix of the sortie while in force ([start, end)), by name."""
    times = [f.time for f in sortie.fixes]
    out: set[str] = set()
    for fp in footprints:
        if fp.kind != "fixed" or fp.camera in out:
            continue
        lo, hi = bisect.bisect_left(times, fp.start), bisect.bisect_left(times, fp.end)
        if lo >= hi:
            continue
        xs = np.array([f.lon for f in sortie.fixes[lo:hi]])
        ys = np.array([f.lat for f in sortie.fixes[lo:hi]])
        if bool(shapely.intersects_xy(fp.polygon, xs, ys).any()):
            out.add(fp.camera)
    return tuple(sorted(out))


@dataclass(frozen=True, slots=True)
class Recorded:
    """Each camera's recorded spans [first frame, last frame], indexed for `recorded_during`: the spans' starts
    in order and, at each, the latest end so far (spans may overlap), so asking costs a bisection per camera
    rather than a scan of every segment (a request may ask for hundreds of sorties over thousands of segments)."""

    starts: Mapping[str, tuple[datetime, ...]]
    reach: Mapping[str, tuple[datetime, ...]]

    @classmethod
    def of(cls, spans: Mapping[str, Iterable[tuple[datetime, datetime]]]) -> Recorded:
        """The index of `spans` (camera: (first frame, last frame) pairs, in any order)."""
        starts: dict[str, tuple[datetime, ...]] = {}
        reach: dict[str, tuple[datetime, ...]] = {}
        for camera, pairs in spans.items():
            ordered = sorted(pairs)
            if not ordered:
                continue
            ends = list(itertools.accumulate((b for _, b in ordered), max))
            starts[camera], reach[camera] = tuple(a for a, _ in ordered), tuple(ends)
        return cls(starts, reach)


def recorded_during(recorded: Recorded, start: datetime, end: datetime) -> tuple[str, ...]:
    """Cameras (by name) with a recorded span [first frame, last frame] overlapping [start, end]."""
    out = []
    for camera in sorted(recorded.starts):
        i = bisect.bisect_right(recorded.starts[camera], end)  # the spans starting at or before `end`
        if i and recorded.reach[camera][i - 1] >= start:  # ... one of which ends at or after `start`
            out.append(camera)
    return tuple(out)


def pick_camera(follow: Sequence[str], recorded: Sequence[str]) -> str | None:
    """The camera to replay a sortie with: the first following camera that recorded, else the first following."""
    kept = set(recorded)
    return next((c for c in follow if c in kept), follow[0] if follow else None)
