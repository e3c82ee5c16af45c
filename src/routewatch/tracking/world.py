"""World tracks: every sensor's tracks fused into one track per real person, vehicle or aircraft.

Pure and deterministic: event time from the data, no I/O. Positions are metres on a local
east/north plane (equirectangular around the first observation: plain arithmetic, no pyproj per
observation). Each world track runs a constant-velocity Kalman filter, state (x, y, vx, vy),
measurement (x, y) with R = accuracy_m^2 I.

Written here rather than taken from a library: filterpy is unmaintained, and Stone Soup builds an
object per state and per hypothesis, far too slow for 100,000 observations/s. With R and the
white-acceleration noise isotropic, the 4x4 covariance is the same 2x2 block on both axes
(exactly, not an approximation), so a track keeps three floats of covariance and one update is a
handful of float operations: about 1.2 us in plain Python, against 36 us for the 4x4 numpy form
(measured here). No numpy is allocated per observation; numpy and scipy serve the assignment only.

Association: a sensor track (source, local id) keeps the world track it first joined; only new
local ids are gated (chi-square on the Mahalanobis distance, a speed check over the gap) against
the tracks in nearby grid cells and assigned jointly per scan (scipy's linear_sum_assignment, cost
d^2 + ln det S, so the closest prediction wins). A new local id may continue a track that another
local id of its own source fed until the previous scan (image trackers break ids between frames);
not one fed by that source in the same scan. A coasting track (lost by every sensor) takes a new
local id only when its prediction explains it better than a new thing would (new_track_density_km2).
A new local id's first fix may be an outlier that missed its track: at its next fix, while the
track it started is still tentative (unseen downstream), it is gated again and may move.

>>> from datetime import UTC, datetime, timedelta
>>> from routewatch.config.world import WorldConfig
>>> from routewatch.model import Observation
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> tr = WorldTracker(WorldConfig())
>>> a = tr.update([Observation("cam-a/1", t0, 35.0, 31.0, subject_class="person", source="cam-a")])
>>> b = tr.update([Observation("cam-b/4", t0 + timedelta(seconds=1), 35.00001, 31.0,
...                            subject_class="person", source="cam-b")])
>>> a[0].world_id == b[0].world_id, b[0].state.value, b[0].sensors
(True, 'confirmed', ('cam-a', 'cam-b'))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np

from routewatch.config.world import WILDCARD_CLASSES, WorldConfig
from routewatch.model import Observation
from routewatch.tracking.worldtypes import (
    WORLD_ID_PREFIX,
    WORLD_NAMESPACE,
    Contributor,
    TrackState,
    WorldUpdate,
    identified,
    make_observation,
    make_update,
    validate_batch,
    world_id_for,
)

__all__ = ["WORLD_ID_PREFIX", "WORLD_NAMESPACE", "Contributor", "TrackState", "WorldTracker", "WorldUpdate",
           "identified", "world_id_for"]

_EARTH_M = 6_371_008.8
_CELL_M = 250.0  # candidate grid: a few walking minutes, a few seconds of driving
_INFEASIBLE = 1e12
# Tracks updated within _RECENT_S are found through the grid; those silent longer (coasting, lost
# for a while: few) are listed at each sweep, every _SWEEP_S of event time, and always tested.
# So the grid search stays a few cells wide although a coasting car may have come kilometres.
_RECENT_S = 2.0
_SWEEP_S = 1.0
_DEG = 180.0 / math.pi
_LATE_S = 1.0  # a sighting this much older than its track's last update only witnesses it (see _witness)


class _Feed:
    """One sensor track's link to its world track (what Contributor reports)."""

    __slots__ = ("first", "last", "local_id", "source", "t", "track")

    def __init__(self, track: _Track, source: str, local_id: str, time: datetime, t: float) -> None:
        self.track, self.source, self.local_id = track, source, local_id
        self.first = self.last = time
        self.t = t


class _Track:
    """A world track's filter state (x, y, vx, vy; covariance block p00, p01, p11), in seconds and metres."""

    __slots__ = ("cell", "cls", "feeds", "hits", "identified", "life", "p00", "p01", "p11", "role", "scan",
                 "scan_lid", "sensors", "state", "t", "vx", "vy", "wid", "x", "y")

    def __init__(self, wid: str, o: Observation, x: float, y: float, r: float, p11: float, t: float,
                 cfg: WorldConfig) -> None:
        self.wid, self.cls, self.role = wid, o.subject_class, o.role
        self.identified = identified(o)
        # The state after an observation, and how long the track may stay silent before it ends.
        self.state = TrackState.CONFIRMED if self.identified else TrackState.TENTATIVE
        self.life = cfg.end_s if self.identified else cfg.coast_s
        self.x, self.y, self.vx, self.vy = x, y, 0.0, 0.0
        self.p00, self.p01, self.p11 = r, 0.0, p11
        self.t, self.hits, self.scan, self.scan_lid = t, 0, -1, ""
        self.cell = (math.inf, 0.0)
        self.feeds: list[_Feed] = []
        self.sensors: tuple[str, ...] = ()

    def predicted(self, dt: float, q: float) -> tuple[float, float, float]:
        """Predicted x, y and position variance (per axis) dt seconds after the last update."""
        p00 = self.p00 + dt * (2.0 * self.p01 + dt * self.p11) + q * dt * dt * dt / 3.0
        return self.x + self.vx * dt, self.y + self.vy * dt, p00

    def retrodicted(self, back: float, q: float) -> tuple[float, float, float]:
        """Where the track was `back` seconds before its last update, and that position's variance.

        The constant-velocity model run backwards; the variance grows with the gap as forwards (the
        cross term, whose sign depends on the direction, is left out: an upper bound)."""
        p00 = self.p00 + back * (2.0 * abs(self.p01) + back * self.p11) + q * back * back * back / 3.0
        return self.x - self.vx * back, self.y - self.vy * back, p00


class WorldTracker:
    """Observations of all sensors in, one WorldUpdate per observation out (see the module docstring)."""

    def __init__(self, cfg: WorldConfig) -> None:
        # scipy.stats and scipy.optimize take a second to import: only where a tracker is built.
        from scipy.optimize import linear_sum_assignment
        from scipy.stats import chi2

        self.cfg = cfg
        self._gate = float(chi2.ppf(cfg.gate_probability, 2))
        # A coasting track is joined only when it explains the observation better than a new thing
        # would: cost d^2 + ln det S (-2 ln of the Gaussian likelihood, less 2 ln 2 pi) < -2 ln(2 pi lambda).
        self._new_cost = -2.0 * math.log(2.0 * math.pi * cfg.new_track_density_km2 * 1e-6)
        self._assign: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] = linear_sum_assignment
        self._q = cfg.process_noise_m_s2 ** 2
        self._confirm_hits = cfg.confirm_hits
        self._r0 = cfg.default_accuracy_m ** 2
        self._origin: tuple[float, float, float, float] | None = None  # lon0, lat0, m per deg lon, lat
        self._tracks: dict[str, _Track] = {}
        self._feeds: dict[str, dict[str, _Feed]] = {}  # source -> local id -> feed
        self._grid: dict[tuple[float, float], dict[str, _Track]] = {}  # cell (x // _CELL_M, y // _CELL_M)
        self._ended: dict[str, tuple[float, tuple[Contributor, ...]]] = {}  # recently ended: end time, contributors
        self._radius: dict[str, int] = {}  # class -> search radius in cells
        self._quiet: list[_Track] = []  # live tracks silent for _RECENT_S at the last sweep
        self._unreported: list[str] = []  # ended since the last expire(), which reports them
        self._clock = -math.inf
        self._sweep_at = -math.inf
        self._scan = 0

    # -- public ----------------------------------------------------------------------------------

    def update(self, observations: Sequence[Observation]) -> list[WorldUpdate]:
        """Observations in event-time order; consecutive ones with the same (source, time) are one scan.

        Returns one WorldUpdate per input, in input order. Refuses (ValueError, nothing changed) a
        batch with an invalid observation.
        """
        validate_batch(observations)
        out: list[WorldUpdate | None] = [None] * len(observations)
        start = 0
        n = len(observations)
        while start < n:
            first = observations[start]
            src, tm = first.source, first.time
            end = start + 1
            while end < n and observations[end].time == tm and observations[end].source == src:
                end += 1
            self._scan_update(observations, start, end, out)
            start = end
        return out  # type: ignore[return-value]  # every slot is filled by its scan

    def expire(self, now: datetime) -> list[str]:
        """End tracks silent for cfg.end_s before `now` (tentative ones after cfg.coast_s); their ids, sorted.

        Also reports the tracks that update() found ended since the last call (event time passed
        them), so every ended id is reported once.
        """
        if now.tzinfo is None:
            raise ValueError(f"expire: now must be tz-aware, got {now.isoformat()}")
        t = now.timestamp()
        self._clock = max(self._clock, t)
        self._sweep(t)
        gone, self._unreported = sorted(set(self._unreported)), []
        return gone

    def contributors(self, world_id: str) -> tuple[Contributor, ...]:
        """The sensor tracks that fed this world track (also for a recently ended one), oldest first."""
        tr = self._tracks.get(world_id)
        if tr is None:
            return self._ended[world_id][1] if world_id in self._ended else ()
        return _contributors(tr)

    def state(self, world_id: str) -> TrackState | None:
        """A track's state at the latest event time seen; None for an unknown (or long ended) id."""
        tr = self._tracks.get(world_id)
        if tr is None:
            return TrackState.ENDED if world_id in self._ended else None
        silent = self._clock - tr.t
        if tr.state is TrackState.TENTATIVE:
            return TrackState.ENDED if silent >= self.cfg.coast_s else TrackState.TENTATIVE
        if silent >= self.cfg.end_s:
            return TrackState.ENDED
        return TrackState.COASTING if silent >= self.cfg.coast_s else TrackState.CONFIRMED

    def __len__(self) -> int:
        """Live (not ended) world tracks at the latest event time seen."""
        return sum(1 for tr in self._tracks.values() if self._alive(tr, self._clock))

    # -- one scan --------------------------------------------------------------------------------

    def _scan_update(self, obs: Sequence[Observation], start: int, end: int, out: list[WorldUpdate | None]) -> None:
        first = obs[start]
        source, time = first.source, first.time
        t = time.timestamp()
        if t > self._clock:
            self._clock = t
        if t >= self._sweep_at:  # end silent tracks and list the quiet ones, once per _SWEEP_S
            self._sweep(t)
        if self._origin is None:
            lon0, lat0 = first.lon, first.lat
            ky = math.radians(1.0) * _EARTH_M
            self._origin = (lon0, lat0, ky * math.cos(math.radians(lat0)), ky)
        self._scan += 1
        scan = self._scan
        feeds = self._feeds.setdefault(source, {})
        fresh: list[int] = []
        second: dict[str, _Track] = {}  # local id -> the tentative track it started (a second look)
        apply = self._apply
        # Input order is safe here: a source has at most one local id per world track in `feeds`
        # (_join), so known local ids never compete; new ones are assigned in sorted order.
        for i in range(start, end):
            o = obs[i]
            if identified(o):
                tr = self._tracks.get(o.subject_id)
                if tr is None or t - tr.t >= tr.life:
                    tr = self._start(o, o.subject_id, t)
                feed = feeds.get(o.subject_id)
                if feed is None or feed.track is not tr:
                    feed = self._join(tr, source, o.subject_id, time, t)
                out[i] = apply(tr, feed, o, t, scan)
                continue
            feed = feeds.get(o.subject_id)
            if feed is None:
                fresh.append(i)
                continue
            tr = feed.track
            # A world track takes one observation per scan from a source (an identified subject's
            # own source may also report camera tracks): else this local id is assigned anew.
            if (tr.scan == scan and tr.scan_lid != o.subject_id) or t - tr.t >= tr.life:
                del feeds[o.subject_id]
                fresh.append(i)
                continue
            if tr.state is TrackState.TENTATIVE and len(tr.feeds) == 1 and tr.scan != scan:
                # A second look: the first fix of a new local id may have been an outlier that missed
                # its track's gate. Nobody downstream has seen a tentative track, so it may still go.
                second[o.subject_id] = tr
                fresh.append(i)
                continue
            out[i] = apply(tr, feed, o, t, scan)
        if fresh:
            fresh.sort(key=lambda i: obs[i].subject_id)  # stable: duplicates keep input order
            self._assign_fresh(obs, fresh, source, time, t, scan, second, out)

    def _assign_fresh(self, obs: Sequence[Observation], fresh: list[int], source: str, time: datetime, t: float,
                      scan: int, second: dict[str, _Track], out: list[WorldUpdate | None]) -> None:
        """Gate new local ids against nearby tracks and assign them jointly; the rest start tracks.

        A local id in `second` keeps the tentative track it started unless another explains it better.
        """
        rows: list[int] = []  # first input index per new local id (duplicates follow it)
        seen: dict[str, int] = {}
        for i in fresh:
            if obs[i].subject_id not in seen:
                seen[obs[i].subject_id] = i
                rows.append(i)
        costs: dict[tuple[int, str], float] = {}
        cols: dict[str, _Track] = {}
        looked = {id(tr) for tr in second.values()}  # live in this scan: the sensor's other things
        for r, i in enumerate(rows):
            own = second.get(obs[i].subject_id)
            for tr, cost in self._candidates(obs[i], source, t, scan):
                if tr is own or id(tr) not in looked:  # its own track competes: it moves only to a better one
                    costs[r, tr.wid] = cost
                    cols[tr.wid] = tr
        chosen: dict[int, _Track] = {}
        if costs:
            names = sorted(cols)  # ties go to the smaller world id: replays give the same ids
            col = {w: c for c, w in enumerate(names)}
            m = np.full((len(rows), len(names)), _INFEASIBLE)
            for (r, w), cost in costs.items():
                m[r, col[w]] = cost
            for r, c in zip(*self._assign(m), strict=True):
                if m[r, c] < _INFEASIBLE:
                    chosen[int(r)] = cols[names[c]]
        feeds = self._feeds[source]
        for r, i in enumerate(rows):
            o = obs[i]
            home = chosen.get(r)
            own = second.get(o.subject_id)
            if own is not None:
                if home is None or home is own:
                    continue  # no better home: it stays on the track it started
                own.life = -math.inf  # never a candidate again (the quiet list may still hold it)
                self._end(self._tracks.pop(own.wid), t)
            if home is None:
                home = self._start(o, world_id_for(source, o.subject_id, time), t)
            feeds[o.subject_id] = self._join(home, source, o.subject_id, time, t)
        for i in fresh:
            feed = feeds[obs[i].subject_id]
            out[i] = self._apply(feed.track, feed, obs[i], t, scan)

    def _candidates(self, o: Observation, source: str, t: float, scan: int) -> list[tuple[_Track, float]]:
        """Tracks this new sensor track may join, with the assignment cost d^2 + ln det S.

        A track that took an observation of this source in this scan is no candidate: the sensor says
        that is another thing. One whose local id of this source merely went silent is: image trackers
        (ByteTrack) break ids between consecutive frames, and the new id must rejoin its world track.
        A candidate must pass the chi-square gate; a coasting one (silent coast_s or more: every sensor
        lost it) must also explain the observation better than a new thing would (cost below
        -2 ln(2 pi new_track_density)): the wider its predicted covariance, the closer the match it needs.
        """
        x, y = self._xy(o)
        r = _variance(o, self._r0)
        slack = min(3.0 * math.sqrt(r), _CELL_M)
        cfg, q, gate, ocls, out = self.cfg, self._q, self._gate, o.subject_class, []
        new_cost, coast = self._new_cost, cfg.coast_s
        speeds = cfg.max_speed_m_s
        vdefault = speeds["default"]
        for tr in self._near(x, y, ocls):
            dt = t - tr.t
            if tr.scan == scan or dt >= tr.life:
                continue
            # A sensor running behind the others (a camera's processing late in event time) sees the
            # track where it was: predicted back, its uncertainty growing with the gap either way.
            adt = abs(dt)
            # Cheapest test first: could it have come this far in the gap (at its class's speed)?
            reach = speeds.get(ocls if tr.cls in WILDCARD_CLASSES else tr.cls, vdefault) * adt + slack
            reach += min(3.0 * math.sqrt(tr.p00), _CELL_M)
            dx, dy = x - tr.x, y - tr.y
            if dx * dx + dy * dy > reach * reach or not cfg.fusable(ocls, tr.cls):
                continue
            px, py, p00 = tr.predicted(dt, q) if dt >= 0.0 else tr.retrodicted(adt, q)
            s = p00 + r
            d2 = ((x - px) ** 2 + (y - py) ** 2) / s
            if d2 <= gate:
                cost = d2 + 2.0 * math.log(s)
                # (Another local id of this source at this very time, in an earlier scan: two things.)
                if (cost < new_cost or dt < coast) and not any(f.source == source and f.t >= t for f in tr.feeds):
                    out.append((tr, cost))
        return out

    def _near(self, x: float, y: float, cls: str) -> list[_Track]:
        """The quiet tracks, and the tracks in the grid cells as far as a recently updated one of a
        compatible class could have come (some may come twice: harmless)."""
        k = self._radius.get(cls)
        if k is None:
            k = self._radius[cls] = self._cells_for(cls)
        cx, cy = int(x // _CELL_M), int(y // _CELL_M)
        grid, found = self._grid, self._quiet[:]
        if (2 * k + 1) ** 2 > len(grid):  # a wide search: fewer occupied cells than cells to look up
            for (gx, gy), cell in grid.items():
                if abs(gx - cx) <= k and abs(gy - cy) <= k:
                    found.extend(cell.values())
            return found
        for gx in range(cx - k, cx + k + 1):
            for gy in range(cy - k, cy + k + 1):
                near = grid.get((gx, gy))
                if near:
                    found.extend(near.values())
        return found

    def _cells_for(self, cls: str) -> int:
        cfg = self.cfg
        named = {cls, *cfg.max_speed_m_s, *cfg.compatible, *(n for v in cfg.compatible.values() for n in v)}
        v = max(cfg.speed_for(k) for k in named if cfg.fusable(cls, k))
        # A track not on the quiet list was updated less than _RECENT_S + _SWEEP_S ago: its last
        # position is at most v times that, plus two slacks of at most a cell, away.
        return math.ceil(v * (_RECENT_S + _SWEEP_S) / _CELL_M) + 2

    # -- one track -------------------------------------------------------------------------------

    def _start(self, o: Observation, wid: str, t: float) -> _Track:
        x, y = self._xy(o)
        vmax = self.cfg.speed_for(o.subject_class)
        tr = _Track(wid, o, x, y, _variance(o, self._r0), (vmax / 3.0) ** 2, t, self.cfg)
        if o.speed_m_s is not None and o.heading_deg is not None and math.isfinite(o.speed_m_s + o.heading_deg):
            h = math.radians(o.heading_deg)
            tr.vx, tr.vy = o.speed_m_s * math.sin(h), o.speed_m_s * math.cos(h)
            tr.p11 = 1.0 + (0.2 * o.speed_m_s) ** 2
        old = self._tracks.pop(wid, None)
        if old is not None:  # an identified subject back after its track ended
            self._end(old, t)
        self._tracks[wid] = tr
        return tr

    def _join(self, tr: _Track, source: str, local_id: str, time: datetime, t: float) -> _Feed:
        feeds = self._feeds.setdefault(source, {})
        for old in tr.feeds:  # the source's earlier (silent) local id: if it comes back, it is another thing
            if old.source == source and feeds.get(old.local_id) is old:
                del feeds[old.local_id]
        feed = _Feed(tr, source, local_id, time, t)
        tr.feeds.append(feed)
        if source not in tr.sensors:
            tr.sensors = tuple(sorted((*tr.sensors, source)))
        feeds[local_id] = feed
        return feed

    def _apply(self, tr: _Track, feed: _Feed, o: Observation, t: float, scan: int) -> WorldUpdate:
        """The Kalman predict + update of one observation, and what it became (the hot path)."""
        lon0, lat0, kx, ky = self._origin  # type: ignore[misc]  # set by the first scan
        zx, zy = (o.lon - lon0) * kx, (o.lat - lat0) * ky
        acc = o.accuracy_m
        r = self._r0 if acc is None else acc * acc
        hits = tr.hits
        if hits == 0:  # the observation that started the track: its position as it is
            x, y, vx, vy, p00, p01 = zx, zy, tr.vx, tr.vy, tr.p00, tr.p01
            tr.t = t
        else:
            dt = t - tr.t
            if dt > 0.0:
                q, p11 = self._q, tr.p11
                p01 = tr.p01 + dt * p11
                p00 = tr.p00 + dt * (tr.p01 + p01) + q * dt * dt * dt / 3.0
                p01 += q * dt * dt / 2.0
                tr.p11 = p11 + q * dt
                vx, vy = tr.vx, tr.vy
                x, y = tr.x + vx * dt, tr.y + vy * dt
                tr.t = t
            elif dt < -_LATE_S:  # a sensor running behind: it witnesses the track, it does not move it
                return self._witness(tr, feed, o, t, scan, -dt)
            else:  # simultaneous, or late by a little (taken as simultaneous; the clock stays)
                p00, p01, x, y, vx, vy = tr.p00, tr.p01, tr.x, tr.y, tr.vx, tr.vy
            s = p00 + r
            k0, k1 = p00 / s, p01 / s
            ix, iy = zx - x, zy - y
            x += k0 * ix
            y += k0 * iy
            vx += k1 * ix
            vy += k1 * iy
            tr.p11 -= k1 * p01
            p01 *= r / s
            p00 *= r / s
        tr.x, tr.y, tr.vx, tr.vy, tr.p00, tr.p01 = x, y, vx, vy, p00, p01
        time = o.time
        feed.last = time
        feed.t = t
        tr.hits = hits = hits + 1
        if hits == self._confirm_hits and not tr.identified:
            tr.state, tr.life = TrackState.CONFIRMED, self.cfg.end_s
        tr.scan, tr.scan_lid = scan, o.subject_id
        cls = tr.cls
        if cls in WILDCARD_CLASSES and o.subject_class not in WILDCARD_CLASSES:
            tr.cls = cls = o.subject_class  # a detector that can tell wins over one that cannot
        cell = (x // _CELL_M, y // _CELL_M)
        if cell != tr.cell:
            self._move(tr, cell)
        speed = math.hypot(vx, vy)
        heading = math.atan2(vx, vy) * _DEG % 360.0 if speed >= 0.2 else None
        wid = tr.wid
        est = make_observation(wid, time, lon0 + x / kx, lat0 + y / ky, o.alt_m, cls, tr.role, o.confidence,
                           o.source, speed, heading, math.sqrt(p00))
        return make_update(wid, tr.state, est, o.subject_id, tr.sensors)

    def _witness(self, tr: _Track, feed: _Feed, o: Observation, t: float, scan: int, back: float) -> WorldUpdate:
        """A late sighting: the track's estimate at that time (predicted back), its filter left as it is.

        Updating the newest state with a sighting `back` seconds old would pull the track back along
        its path; the sensor still counts as a witness, and the estimate goes out at the sighting's time.
        """
        lon0, lat0, kx, ky = self._origin  # type: ignore[misc]  # set by the first scan
        x, y, p00 = tr.retrodicted(back, self._q)
        feed.last = o.time
        feed.t = t
        tr.scan, tr.scan_lid = scan, o.subject_id
        speed = math.hypot(tr.vx, tr.vy)
        heading = math.atan2(tr.vx, tr.vy) * _DEG % 360.0 if speed >= 0.2 else None
        est = make_observation(tr.wid, o.time, lon0 + x / kx, lat0 + y / ky, o.alt_m, tr.cls, tr.role, o.confidence,
                               o.source, speed, heading, math.sqrt(p00))
        return make_update(tr.wid, tr.state, est, o.subject_id, tr.sensors)

    def _move(self, tr: _Track, cell: tuple[float, float]) -> None:
        old = self._grid.get(tr.cell)
        if old is not None:
            del old[tr.wid]
            if not old:
                del self._grid[tr.cell]
        self._grid.setdefault(cell, {})[tr.wid] = tr
        tr.cell = cell

    # -- lifecycle -------------------------------------------------------------------------------

    def _alive(self, tr: _Track, t: float) -> bool:
        return t - tr.t < tr.life

    def _sweep(self, t: float) -> None:
        gone, self._quiet = [], []
        for w, tr in self._tracks.items():
            silent = t - tr.t
            if silent >= tr.life:
                gone.append(w)
            elif silent >= _RECENT_S:
                self._quiet.append(tr)
        for w in sorted(gone):
            self._end(self._tracks.pop(w), t)
        self._sweep_at = t + _SWEEP_S
        keep = t - self.cfg.end_s  # ended ids are answered for a while, then forgotten
        for w in [w for w, (at, _) in self._ended.items() if at < keep]:
            del self._ended[w]

    def _end(self, tr: _Track, t: float) -> None:
        for f in tr.feeds:
            feeds = self._feeds.get(f.source)
            if feeds is not None and feeds.get(f.local_id) is f:
                del feeds[f.local_id]
        cell = self._grid.get(tr.cell)
        if cell is not None and cell.get(tr.wid) is tr:
            del cell[tr.wid]
            if not cell:
                del self._grid[tr.cell]
        self._ended[tr.wid] = (t, _contributors(tr))
        self._unreported.append(tr.wid)

    def _xy(self, o: Observation) -> tuple[float, float]:
        origin = self._origin
        assert origin is not None
        return (o.lon - origin[0]) * origin[2], (o.lat - origin[1]) * origin[3]


def _variance(o: Observation, default: float) -> float:
    return default if o.accuracy_m is None else o.accuracy_m * o.accuracy_m


def _contributors(tr: _Track) -> tuple[Contributor, ...]:
    merged: dict[tuple[str, str], Contributor] = {}
    for f in tr.feeds:  # a sensor track that left and came back is one contributor
        prev = merged.get((f.source, f.local_id))
        first = f.first if prev is None else min(prev.first, f.first)
        last = f.last if prev is None else max(prev.last, f.last)
        merged[f.source, f.local_id] = Contributor(f.source, f.local_id, first, last)
    return tuple(sorted(merged.values(), key=lambda c: (c.first, c.source, c.local_id)))
