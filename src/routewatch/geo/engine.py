"""CorridorEngine: observations in, rule events out; pure, driven by event time only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import numpy as np
import shapely

from routewatch.config.engine import EngineConfig
from routewatch.geo.crs import LocalFrame, angle_diff_deg
from routewatch.geo.index import Compiled, CorridorIndex, cell_key
from routewatch.geo.linear import CentreLine
from routewatch.geo.state import PairState, PendingCross, TrackState
from routewatch.model import Corridor, CorridorKind, Direction, EventKind, Observation, RuleEvent


@dataclass(slots=True)
class EngineStats:
    """Counters of what the engine accepted and dropped, by reason."""

    accepted: int = 0
    duplicate: int = 0
    out_of_order: int = 0
    stale: int = 0
    outlier: int = 0
    invalid: int = 0
    reanchored: int = 0
    events: int = 0

    def as_dict(self) -> dict[str, int]:
        """Counters as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


REANCHOR_FIXES = 3


def _shape(c: Corridor) -> tuple[bytes, float | None]:
    """What along-progress is measured on: a changed shape restarts it."""
    return c.geometry.wkb, c.width_m


def _valid(obs: Observation) -> bool:
    """Finite, in-range coordinates: anything else never reaches the geometry."""
    return -180.0 <= obs.lon <= 180.0 and -90.0 <= obs.lat <= 90.0  # false for NaN too


@dataclass(frozen=True, slots=True)
class _Rule:
    """Per-corridor rule parameters resolved once (corridor property, else engine default)."""

    operating_area: bool
    inside_rules: bool
    min_dwell_s: float
    min_progress_m: float
    centre: CentreLine | None
    sign: float
    window_m: float

    @staticmethod
    def of(comp: Compiled, cfg: EngineConfig) -> _Rule:
        c = comp.corridor
        along = comp.centre is not None and c.direction is not None and c.kind is CorridorKind.CORRIDOR
        sign = {Direction.FORWARD: 1.0, Direction.REVERSE: -1.0}.get(c.direction, 0.0) if c.direction else 0.0
        return _Rule(
            operating_area=c.kind is CorridorKind.OPERATING_AREA,
            inside_rules=c.kind in (CorridorKind.CORRIDOR, CorridorKind.EXCLUSION),
            min_dwell_s=c.min_dwell_s or cfg.min_dwell_s,
            min_progress_m=c.min_progress_m or cfg.min_progress_m,
            centre=comp.centre if along else None,
            sign=sign,
            window_m=2.0 * (c.width_m or 0.0) + 50.0,
        )


class CorridorEngine:
    """Keeps state per (subject, corridor) and emits enter/exit/dwell/along/cross/breach events."""

    index: CorridorIndex

    def __init__(self, corridors: Sequence[Corridor], cfg: EngineConfig, frame: LocalFrame | None = None,
                 index_type: type[CorridorIndex] = CorridorIndex) -> None:
        self.cfg = cfg
        self._index_type = index_type
        self.stats = EngineStats()
        self.tracks: dict[str, TrackState] = {}
        self.watermark_ts = -math.inf
        self.watermarks: dict[str, float] = {}
        self._frame = frame
        self.set_corridors(corridors)

    def set_corridors(self, corridors: Sequence[Corridor]) -> list[RuleEvent]:
        """Swap in a new corridor set; state of corridors that keep their id is kept.

        Subjects inside (or breaching) a corridor that is removed get its end event, so no alert
        is left open on a corridor that no longer exists; a changed geometry restarts along-progress.
        """
        before = self.index.compiled if hasattr(self, "index") else ()
        old = {c.corridor.id: c.index for c in before}
        frame = self._frame or LocalFrame.around(c.geometry for c in corridors)
        self.index = self._index_type(corridors, frame, hysteresis_m=self.cfg.hysteresis_m, cell_m=self.cfg.cell_m)
        self._has_lines = any(c.line_xy for c in self.index.compiled)
        self._op_areas = tuple(c.index for c in self.index.compiled if c.corridor.kind is CorridorKind.OPERATING_AREA)
        self._rules = [_Rule.of(c, self.cfg) for c in self.index.compiled]
        self._min_disp2 = self.cfg.min_displacement_m ** 2
        self._stale_s, self._max_gap_s = self.cfg.stale_s, self.cfg.max_gap_s
        self._cross_gap_s = self.cfg.cross_max_gap_s
        self._line_cells, self._big_lines = self.index.line_cells, self.index.has_big_lines
        remap = {old[c.corridor.id]: c.index for c in self.index.compiled if c.corridor.id in old}
        new = self.index.compiled
        reshaped = {i for i, j in remap.items() if _shape(before[i].corridor) != _shape(new[j].corridor)}
        events: list[RuleEvent] = []
        for tr in sorted(self.tracks.values(), key=lambda t: t.subject_id):
            for i, st in sorted(tr.pairs.items()):
                if i not in remap:
                    events.extend(self._drop_pair(tr, before[i], st))
                elif i in reshaped:
                    st.last_s = None
                    st.samples.clear()
            tr.x, tr.y = self.index.frame.xy(tr.lon, tr.lat)
            tr.anchor_x, tr.anchor_y = tr.x, tr.y
            tr.cell = cell_key(tr.x, tr.y, self.index.cell_m)
            tr.pairs = {remap[i]: st for i, st in tr.pairs.items() if i in remap}
            tr.crossings = {remap[i]: p for i, p in tr.crossings.items() if i in remap}
            tr.applies.clear()
            tr.op_areas = None
        self.stats.events += len(events)
        return events

    def _drop_pair(self, tr: TrackState, comp: Compiled, st: PairState) -> list[RuleEvent]:
        """End events for a pair whose corridor was removed."""
        kind = comp.corridor.kind
        if kind is CorridorKind.OPERATING_AREA and st.inside is False:
            end = EventKind.RETURN
        elif kind is not CorridorKind.OPERATING_AREA and st.inside:
            end = EventKind.EXIT
        else:
            return []
        c = comp.corridor
        return [RuleEvent(end, tr.t, tr.subject_id, tr.subject_class, c.id, c.version, tr.lon, tr.lat,
                          tr.course_deg, tr.speed_m_s, None, "corridor removed", "")]

    @property
    def corridors(self) -> tuple[Corridor, ...]:
        """The corridor set in force."""
        return tuple(c.corridor for c in self.index.compiled)

    def process(self, obs: Observation) -> list[RuleEvent]:
        """Evaluate one observation."""
        if not _valid(obs):
            self.stats.invalid += 1
            return []
        x, y = self.index.frame.xy(obs.lon, obs.lat)
        key = cell_key(x, y, self.index.cell_m)
        return self._handle(obs, x, y, key, self.index.areas_in_cell(x, y, key))

    def process_batch(self, batch: Sequence[Observation]) -> list[RuleEvent]:
        """Evaluate observations in order, with projection and area tests vectorised."""
        return [e for events in self.process_batch_split(batch) for e in events]

    def process_batch_split(self, batch: Sequence[Observation]) -> list[list[RuleEvent]]:
        """Like `process_batch`, with the events of each observation kept apart."""
        if not batch:
            return []
        lon = np.fromiter((o.lon for o in batch), dtype=np.float64, count=len(batch))
        lat = np.fromiter((o.lat for o in batch), dtype=np.float64, count=len(batch))
        if not ((np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)).all():
            # Rare: go one by one so the vectorised path sees only finite, in-range coordinates.
            return [self.process(o) for o in batch]
        xs, ys = self.index.frame.xy_many(lon, lat)
        keys = self.index.cell_keys(xs, ys)
        cands = self.index.areas_at_many(xs, ys, keys)
        handle = self._handle
        return [handle(o, x, y, k, c)
                for o, x, y, k, c in zip(batch, xs.tolist(), ys.tolist(), keys.tolist(), cands, strict=True)]

    def _invalid(self) -> list[RuleEvent]:
        self.stats.invalid += 1
        return []

    def expire(self, before: datetime) -> list[str]:
        """Forget subjects not seen since `before` (event time); returns their ids."""
        cut = before.timestamp()
        gone = [k for k, tr in self.tracks.items() if tr.ts < cut]
        for k in gone:
            del self.tracks[k]
        return gone

    def _handle(self, obs: Observation, x: float, y: float, key: int, cand: Sequence[tuple[int, bool]]
                ) -> list[RuleEvent]:
        ts = obs.time.timestamp()
        tr = self.tracks.get(obs.subject_id)
        # Staleness is judged per source: inputs on different clocks must not mute each other.
        mark = self.watermarks.get(obs.source, -math.inf)
        if ts < mark - self._stale_s:
            self.stats.stale += 1
            return []
        if tr is None:
            tr = TrackState(obs.subject_id, obs.subject_class, obs.role, obs.time, ts, x, y,
                            obs.lon, obs.lat, x, y, key)
            self.tracks[obs.subject_id] = tr
            dt = 0.0
            dist = 0.0
        else:
            dt = ts - tr.ts
            if dt <= 0:
                if dt == 0:
                    self.stats.duplicate += 1
                else:
                    self.stats.out_of_order += 1
                return []
            dist = math.hypot(x - tr.x, y - tr.y)
            if obs.subject_class != tr.subject_class:
                tr.max_speed = 0.0
            if not tr.max_speed:
                speeds = self.cfg.max_speed_m_s
                tr.max_speed = speeds.get(obs.subject_class, speeds["default"])
            if dist > tr.max_speed * dt:
                if not self._reanchor(tr, x, y, ts):
                    self.stats.outlier += 1
                    return []
                # A jump, not a movement: no speed from it, no crossing along it.
                dist, tr.x, tr.y, tr.cell = 0.0, x, y, key
            tr.rejected = 0
        self.stats.accepted += 1
        if ts > mark:
            self.watermarks[obs.source] = ts
            if ts > self.watermark_ts:
                self.watermark_ts = ts
        gap = dt > self._max_gap_s
        if obs.subject_class != tr.subject_class or obs.role is not tr.role:
            tr.subject_class, tr.role = obs.subject_class, obs.role
            tr.applies.clear()
            tr.op_areas = None
        mx, my = x - tr.anchor_x, y - tr.anchor_y
        if mx * mx + my * my >= self._min_disp2:
            tr.course_dx, tr.course_dy, tr.anchor_x, tr.anchor_y = mx, my, x, y
        elif obs.heading_deg is not None:
            tr.reported_heading = obs.heading_deg
        tr.speed_m_s = obs.speed_m_s if obs.speed_m_s is not None else (dist / dt if dt > 0 else None)

        events: list[RuleEvent] = []
        # A crossing needs a line in some cell the step touches; most steps stay in one empty cell.
        if (self._has_lines and 0 < dt <= self._cross_gap_s
                and (key != tr.cell or key in self._line_cells or self._big_lines)):
            self._lines(tr, obs, x, y, dt, events)
        if tr.crossings:
            self._confirm_crossings(tr, obs, x, y, events)
        if tr.op_areas is None:
            tr.op_areas = tuple(i for i in self._op_areas if self._applies(tr, i))
        if cand or tr.pairs or tr.op_areas:
            self._areas(tr, obs, x, y, ts, gap, cand, events)
        tr.t, tr.ts, tr.x, tr.y, tr.lon, tr.lat, tr.cell = obs.time, ts, x, y, obs.lon, obs.lat, key
        if events:
            self.stats.events += len(events)
        return events

    def _reanchor(self, tr: TrackState, x: float, y: float, ts: float) -> bool:
        """After REANCHOR_FIXES rejected fixes that agree with each other, trust them over the old fix.

        A bad first fix (or a real jump the filter cannot explain) would otherwise lock the track out.
        """
        if tr.rejected and math.hypot(x - tr.rejected_x, y - tr.rejected_y) <= tr.max_speed * (ts - tr.rejected_ts):
            tr.rejected += 1
        else:
            tr.rejected = 1
        tr.rejected_x, tr.rejected_y, tr.rejected_ts = x, y, ts
        if tr.rejected < REANCHOR_FIXES:
            return False
        self.stats.reanchored += 1
        tr.anchor_x, tr.anchor_y, tr.course_dx, tr.course_dy = x, y, 0.0, 0.0
        return True

    def _areas(self, tr: TrackState, obs: Observation, x: float, y: float, ts: float, gap: bool,
               cand: Sequence[tuple[int, bool]], events: list[RuleEvent]) -> None:
        assert tr.op_areas is not None
        pairs = tr.pairs
        applies = tr.applies
        step = self._step
        done: set[int] = set()
        for idx, in_core in cand:
            done.add(idx)
            ok = applies.get(idx)
            if ok is None:
                ok = self._applies(tr, idx)
            if ok:
                st = pairs.get(idx)
                if st is None:
                    st = pairs[idx] = PairState()
                step(tr, idx, st, obs, x, y, ts, gap, in_core, True, events)
        # Pairs with state but no candidate here: the subject is outside their outer boundary.
        for idx in [i for i in pairs if i not in done]:
            step(tr, idx, pairs[idx], obs, x, y, ts, gap, False, False, events)
        for idx in tr.op_areas:
            if idx not in pairs:
                st = pairs[idx] = PairState()
                step(tr, idx, st, obs, x, y, ts, gap, False, False, events)
        for idx in [i for i, st in pairs.items() if st.quiescent() and i not in tr.op_areas]:
            del pairs[idx]

    def _applies(self, tr: TrackState, idx: int) -> bool:
        ok = tr.applies.get(idx)
        if ok is None:
            comp = self.index.compiled[idx]
            ok = tr.applies[idx] = comp.corridor.applies_to(tr.subject_class, tr.role, tr.subject_id)
        return ok

    def _event(self, kind: EventKind, tr: TrackState, comp: Compiled, t: datetime, lon: float, lat: float,
               obs: Observation, progress: float | None = None, detail: str = "") -> RuleEvent:
        c = comp.corridor
        return RuleEvent(kind, t, tr.subject_id, tr.subject_class, c.id, c.version, lon, lat,
                         tr.course_deg, tr.speed_m_s, progress, detail, obs.source)

    def _step(self, tr: TrackState, idx: int, st: PairState, obs: Observation, x: float, y: float,
              ts: float, gap: bool, in_core: bool, in_outer: bool, events: list[RuleEvent]) -> None:
        rule = self._rules[idx]
        raw = in_outer if st.inside else in_core
        if gap:
            st.pending_t = None
            if st.inside is not None and raw == st.inside:
                self._reassert(tr, self.index.compiled[idx], st, obs, ts, events)
        if raw == st.inside or (st.inside is None and not raw and not rule.operating_area):
            st.pending_t = None
        else:
            if st.pending_t is None:
                st.pending_t, st.pending_ts, st.pending_lonlat, st.pending_count = obs.time, ts, (obs.lon, obs.lat), 0
            st.pending_count += 1
            if st.pending_count >= self.cfg.confirm_fixes and ts - st.pending_ts >= self.cfg.confirm_s:
                self._flip(tr, self.index.compiled[idx], st, raw, obs, events)
        if st.inside and rule.inside_rules:
            self._inside_rules(tr, idx, rule, st, obs, x, y, ts, gap, events)

    def _reassert(self, tr: TrackState, comp: Compiled, st: PairState, obs: Observation, ts: float,
                  events: list[RuleEvent]) -> None:
        """After a gap in the data, a condition that still holds is reported again.

        Alerts of silent subjects close; this lets them reopen (or go on) when the subject reappears
        still inside an area, or still outside its operating area. Dwell restarts from here.
        """
        detail = "still there after a gap in the data"
        if comp.corridor.kind is CorridorKind.OPERATING_AREA:
            if st.inside is False:
                events.append(self._event(EventKind.BREACH, tr, comp, obs.time, obs.lon, obs.lat, obs, detail=detail))
            return
        if st.inside:
            st.dwell_ts, st.dwell_fired, st.along_fired, st.last_s = ts, False, False, None
            st.samples.clear()
            events.append(self._event(EventKind.ENTER, tr, comp, obs.time, obs.lon, obs.lat, obs, detail=detail))

    def _flip(self, tr: TrackState, comp: Compiled, st: PairState, now_in: bool, obs: Observation,
              events: list[RuleEvent]) -> None:
        assert st.pending_t is not None
        t, (lon, lat) = st.pending_t, st.pending_lonlat
        was = st.inside
        st.inside, st.pending_t = now_in, None
        if comp.corridor.kind is CorridorKind.OPERATING_AREA:
            if not now_in:
                events.append(self._event(EventKind.BREACH, tr, comp, t, lon, lat, obs))
            elif was is False:
                events.append(self._event(EventKind.RETURN, tr, comp, t, lon, lat, obs))
            return
        if now_in:
            st.dwell_ts, st.dwell_fired, st.along_fired, st.last_s = st.pending_ts, False, False, None
            st.samples.clear()
            events.append(self._event(EventKind.ENTER, tr, comp, t, lon, lat, obs))
        elif was:
            events.append(self._event(EventKind.EXIT, tr, comp, t, lon, lat, obs))

    def _inside_rules(self, tr: TrackState, idx: int, rule: _Rule, st: PairState, obs: Observation, x: float,
                      y: float, ts: float, gap: bool, events: list[RuleEvent]) -> None:
        if gap:
            st.dwell_ts = ts
            st.samples.clear()
            st.last_s = None
        if not st.dwell_fired and ts - st.dwell_ts >= rule.min_dwell_s:
            st.dwell_fired = True
            events.append(self._event(EventKind.DWELL, tr, self.index.compiled[idx], obs.time, obs.lon, obs.lat,
                                      obs, detail=f"inside {ts - st.dwell_ts:.0f} s"))
        centre = rule.centre
        if centre is None or st.along_fired:
            return
        window = rule.window_m + math.hypot(x - tr.x, y - tr.y)
        s, seg = centre.locate(x, y, st.last_s, window)
        st.last_s = s
        samples = st.samples
        samples.append((ts, s))
        while ts - samples[0][0] > self.cfg.along_window_s:
            samples.popleft()
        if tr.course_deg is None:
            return
        progress = s - samples[0][1]
        sign = rule.sign or (1.0 if progress >= 0 else -1.0)
        if sign * progress < rule.min_progress_m:
            return
        axis = centre.bearing(seg) if sign > 0 else (centre.bearing(seg) + 180.0) % 360.0
        if angle_diff_deg(tr.course_deg, axis) <= self.cfg.along_tolerance_deg:
            st.along_fired = True
            events.append(self._event(EventKind.ALONG, tr, self.index.compiled[idx], obs.time, obs.lon, obs.lat,
                                      obs, progress=s,
                                      detail=f"{sign * progress:.0f} m along, heading {tr.course_deg:.0f}°"))

    def _lines(self, tr: TrackState, obs: Observation, x: float, y: float, dt: float,
               events: list[RuleEvent]) -> None:
        for hit in self.index.lines_crossed(tr.x, tr.y, x, y):
            if not self._applies(tr, hit.index):
                continue
            pend = tr.crossings.pop(hit.index, None)
            if pend is not None and pend.left_to_right != hit.left_to_right:
                continue  # crossed back before getting clear: noise, not a crossing
            t = tr.t + timedelta(seconds=hit.frac * dt)
            lon, lat = self.index.frame.lonlat(tr.x + hit.frac * (x - tr.x), tr.y + hit.frac * (y - tr.y))
            tr.crossings[hit.index] = PendingCross(t, lon, lat, hit.left_to_right, tr.course_deg, tr.speed_m_s)

    def _confirm_crossings(self, tr: TrackState, obs: Observation, x: float, y: float,
                           events: list[RuleEvent]) -> None:
        point = shapely.points(x, y)
        for idx, pend in list(tr.crossings.items()):
            comp = self.index.compiled[idx]
            clear = min(shapely.distance(shapely.linestrings(p), point) for p in comp.line_xy)
            if clear < self.cfg.hysteresis_m:
                continue
            del tr.crossings[idx]
            d = comp.corridor.direction
            if (d is Direction.FORWARD and not pend.left_to_right) or (d is Direction.REVERSE and pend.left_to_right):
                continue
            side = "left to right" if pend.left_to_right else "right to left"
            c = comp.corridor
            events.append(RuleEvent(EventKind.CROSS, pend.t, tr.subject_id, tr.subject_class, c.id, c.version,
                                    pend.lon, pend.lat, pend.heading_deg, pend.speed_m_s, None,
                                    f"crossed {side}", obs.source))
