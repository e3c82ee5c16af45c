"""Pipeline: telemetry events -> (world tracker) -> corridor engine -> alert manager. Pure: no I/O, event time only.

With world tracking on, sensor tracks ("cam-a/7", "cam-b/12") are fused into world tracks first:
the engine and the alerts see one subject per real person, vehicle or aircraft, and each alert
lists the sensor tracks that saw it (`Alert.sensors`).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from routewatch.alerts.manager import AlertManager
from routewatch.config.engine import AlertsConfig, EngineConfig
from routewatch.config.world import WorldConfig
from routewatch.geo.engine import CorridorEngine
from routewatch.model import (
    Alert,
    AlertChange,
    Attitude,
    ClockOffset,
    Corridor,
    EventKind,
    FenceStatus,
    LinkStatus,
    Observation,
    RuleEvent,
    TelemetryEvent,
    VehicleStatus,
)
from routewatch.pipeline.corroborate import Corroboration
from routewatch.tracking.world import WORLD_ID_PREFIX, TrackState, WorldTracker, WorldUpdate

SWEEP_EVERY_S = 1.0
CLOCK_SAMPLES = 600  # the clock offset is the median of the latest samples
AUTOPILOT_FENCE = "autopilot-fence"
WORLD_SOURCE = "world"  # the source of a stored world-track position (sensor positions keep their own)


@dataclass(slots=True)
class Telemetry:
    """Latest non-position telemetry per subject, for status views and camera georeferencing."""

    status: dict[str, VehicleStatus] = field(default_factory=dict)
    attitude: dict[str, Attitude] = field(default_factory=dict)
    clock_offset_s: dict[str, deque[float]] = field(default_factory=dict)
    fence_breached: dict[str, bool] = field(default_factory=dict)
    links: dict[str, LinkStatus] = field(default_factory=dict)


class Pipeline:
    """Owns engine and alert state; the single place telemetry turns into alert changes."""

    def __init__(self, corridors: Sequence[Corridor], engine: EngineConfig, alerts: AlertsConfig,
                 world: WorldConfig | None = None, owns: Callable[[float, float], bool] | None = None) -> None:
        """`world`: fuse sensor tracks into world tracks before the rules (when enabled).

        `owns(lon, lat)`: whether this worker raises the alerts of a fix there (default: everywhere).

        Fixes it does not own still move the engine's state (a worker's sector margin), so a subject
        that arrives brings its pending crossings and confirmations; their rule events are dropped,
        since the worker owning those fixes raises them (routewatch.pipeline.sectors).
        """
        self.owns = owns
        self.engine = CorridorEngine(corridors, engine)
        self.alerts = AlertManager(alerts, corridors)
        self.world = WorldTracker(world) if world is not None and world.enabled else None
        self.corroboration = Corroboration(corridors)
        self.telemetry = Telemetry()
        self.subjects: dict[str, str] = {}
        self._next_sweep: dict[str, float] = {}
        self._forget_s = max(engine.stale_s, alerts.close_after_s) * 4
        self._world_out: list[Observation] = []
        # World id -> its sensor tracks so far, noted as each batch is fused: the tracker runs a whole batch
        # ahead of the engine, so by the time a rule fires it may have ended (and forgotten) the track.
        self._sensors: dict[str, tuple[str, ...]] = {}

    def set_corridors(self, corridors: Sequence[Corridor]) -> list[AlertChange]:
        """A new corridor set takes effect from the next observation; alerts on removed corridors end."""
        ended = self.engine.set_corridors(corridors)
        self.alerts.set_corridors(corridors)
        self.corroboration.set_corridors(corridors)
        return [ch for ev in ended for ch in self.alerts.on_event(ev)]

    def take_world_positions(self) -> list[Observation]:
        """The world-track positions made since the last call (source "world"), for the store and the map.

        Identified subjects (our drones, patrols, transponders) are their own world track: their own
        positions are its positions, so none is made for them.
        """
        out, self._world_out = self._world_out, []
        return out

    def feed(self, ev: TelemetryEvent) -> list[AlertChange]:
        """Apply one telemetry event."""
        if isinstance(ev, Observation):
            return self._batch([ev]) if self.world is not None else self._after(ev, self.engine.process(ev))
        if isinstance(ev, FenceStatus):
            return self._fence(ev)
        self._other(ev)
        return []

    def feed_many(self, events: Sequence[TelemetryEvent]) -> list[AlertChange]:
        """Apply events in order; runs of observations go through the engine's batch path."""
        out: list[AlertChange] = []
        run: list[Observation] = []
        for ev in events:
            if isinstance(ev, Observation):
                run.append(ev)
            elif isinstance(ev, FenceStatus):
                if run:  # its alert is placed where the track is: the fixes before it go first
                    out.extend(self._batch(run))
                    run = []
                out.extend(self._fence(ev))
            else:
                # Status, attitude, clock and link reports touch no rule state: a run goes on across them,
                # so a log's fixes, interleaved with those, still reach the engine in batches.
                self._other(ev)
        if run:
            out.extend(self._batch(run))
        return out

    def _batch(self, run: list[Observation]) -> list[AlertChange]:
        out: list[AlertChange] = []
        if self.world is not None:
            run = self._fuse(run)
        for obs, events in zip(run, self.engine.process_batch_split(run), strict=True):
            out.extend(self._after(obs, events))
        return out

    def _fuse(self, run: list[Observation]) -> list[Observation]:
        """Sensor observations to world-track observations (tentative tracks wait: one sighting is no track)."""
        assert self.world is not None
        fused: list[Observation] = []
        for u in self.world.update(run):
            if u.state is TrackState.TENTATIVE or u.state is TrackState.ENDED:
                continue
            fused.append(u.observation)
            self._note(u)
        return fused

    def _note(self, u: WorldUpdate) -> None:
        wid = u.world_id
        sensors = self._sensors.get(wid, ())
        if u.local_id not in sensors:
            sensors = tuple(sorted((*sensors, u.local_id)))
            self._sensors[wid] = sensors
        if wid.startswith(WORLD_ID_PREFIX):  # an identified subject's own positions are its world track
            self._world_out.append(dataclasses.replace(u.observation, source=WORLD_SOURCE))

    def _after(self, obs: Observation, events: list[RuleEvent]) -> list[AlertChange]:
        self.subjects[obs.subject_id] = obs.subject_class
        self.alerts.touch(obs.subject_id, obs.time)
        out: list[AlertChange] = []
        ts = obs.time.timestamp()
        # Per source: inputs on different clocks each drive the sweep in their own time.
        if ts >= self._next_sweep.get(obs.source, float("-inf")):
            self._next_sweep[obs.source] = ts + SWEEP_EVERY_S
            out.extend(self.alerts.sweep(obs.time))
        if self.owns is not None and events and not self.owns(obs.lon, obs.lat):
            return out
        if not self.corroboration.active and self.world is None:
            for e in events:
                out.extend(self.alerts.on_event(e))
            return out
        sensors = self._sensors.get(obs.subject_id, ()) if self.world is not None else ()
        # Without world tracking a subject is one sensor track, itself: counted, not listed on its alerts.
        seen_by = sensors or (obs.subject_id,)
        admitted = self.corroboration.seen(obs.subject_id, seen_by, obs.time) if self.corroboration.active else []
        for e in events:
            admitted.extend(self.corroboration.admit(dataclasses.replace(e, sensors=seen_by)))
        for e in admitted:
            out.extend(self.alerts.on_event(e if sensors else dataclasses.replace(e, sensors=())))
        return out

    def _other(self, ev: TelemetryEvent) -> None:
        """Status, attitude, clock and link reports: kept for views, no rule state (see feed_many)."""
        t = self.telemetry
        if isinstance(ev, VehicleStatus):
            t.status[ev.subject_id] = ev
        elif isinstance(ev, Attitude):
            t.attitude[ev.subject_id] = ev
        elif isinstance(ev, ClockOffset):
            t.clock_offset_s.setdefault(ev.subject_id, deque(maxlen=CLOCK_SAMPLES)).append(ev.offset_s)
        elif isinstance(ev, LinkStatus):
            t.links[ev.source] = ev

    def _fence(self, ev: FenceStatus) -> list[AlertChange]:
        """The autopilot's own fence breach becomes a breach alert on a pseudo-corridor."""
        was = self.telemetry.fence_breached.get(ev.subject_id, False)
        self.telemetry.fence_breached[ev.subject_id] = ev.breached
        if ev.breached == was:
            return []
        kind = EventKind.BREACH if ev.breached else EventKind.RETURN
        cls = self.subjects.get(ev.subject_id, "drone")
        track = self.engine.tracks.get(ev.subject_id)
        if track is None:
            # No position yet: an alert needs a place; the status is kept in telemetry.fence_breached.
            return []
        lon, lat = track.lon, track.lat
        if self.owns is not None and not self.owns(lon, lat):
            return []  # the worker owning where the drone is raises it
        rule = RuleEvent(kind, ev.time, ev.subject_id, cls, AUTOPILOT_FENCE, 0, lon, lat,
                         detail=f"autopilot fence status: breach type {ev.breach_type}", source=ev.source)
        return self.alerts.on_event(rule)

    def recover(self, alerts: Sequence[Alert], history: Sequence[Observation]) -> int:
        """Rebuild state after a restart: the stored track history replayed, then the stored alerts.

        What the replay raises is already in the database (positions and the alert changes they
        caused are committed together), so its changes are dropped. The stored alerts then replace
        what the replay rebuilt: when the history is only the recent part, a subject found inside
        at its start continues its stored alert instead of opening a second one.
        Returns how many changes the replay reproduced.
        """
        # Stored world-track positions are made again by the replay of the sensor positions.
        ordered: list[Observation] = sorted((o for o in history if o.source != WORLD_SOURCE),
                                            key=lambda o: (o.time, o.subject_id))
        n = len(self.feed_many(ordered))
        self.alerts.restore(alerts)
        return n

    def finish(self) -> list[AlertChange]:
        """End of input: settle alerts whose condition has ended."""
        return self.alerts.finish()

    def forget_before_watermark(self) -> int:
        """Drop state of subjects silent for a long time (bounded memory on long runs)."""
        wm = self.engine.watermark_ts
        if wm == float("-inf"):
            return 0
        return self.forget_silent_at(datetime.fromtimestamp(wm, tz=UTC))

    def forget_silent_at(self, now: datetime) -> int:
        """As `forget_before_watermark`, with event time `now` given (e.g. a replay's own clock)."""
        gone = self.engine.expire(now - timedelta(seconds=self._forget_s))
        if self.world is not None:
            self.world.expire(now)
        self.corroboration.expire(now)
        for sid in gone:
            self._sensors.pop(sid, None)
            self.subjects.pop(sid, None)
            self.alerts.forget(sid)
            for table in (self.telemetry.status, self.telemetry.attitude, self.telemetry.clock_offset_s,
                          self.telemetry.fence_breached):
                table.pop(sid, None)
        return len(gone)
