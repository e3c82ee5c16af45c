"""AlertManager: rule events in, alert lifecycle changes out (pure, event time only)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlencode

from routewatch.config.engine import AlertsConfig
from routewatch.model import (
    ALERT_KINDS,
    Alert,
    AlertChange,
    AlertState,
    Change,
    Corridor,
    EventKind,
    RuleEvent,
    Severity,
    alert_id,
)

Key = tuple[str, str, EventKind]

# Rule events that start an alert of their own kind; RETURN only ends them (EXIT does both).
_OPENS = frozenset(ALERT_KINDS)
_ENDS: dict[EventKind, tuple[EventKind, ...]] = {
    EventKind.EXIT: (EventKind.ENTER, EventKind.DWELL, EventKind.ALONG),
    EventKind.RETURN: (EventKind.BREACH,),
}
INSTANT = frozenset({EventKind.CROSS, EventKind.EXIT})


class AlertManager:
    """Opens, updates, reopens (within cooldown) and closes alerts per (subject, corridor, kind)."""

    def __init__(self, cfg: AlertsConfig, corridors: Sequence[Corridor] = ()) -> None:
        self.cfg = cfg
        self._corridors: dict[str, Corridor] = {}
        self._live: dict[Key, Alert] = {}
        self._closed: dict[Key, Alert] = {}
        self._seen: dict[str, datetime] = {}
        self._ending: dict[Key, RuleEvent] = {}
        self._cooldown = timedelta(seconds=cfg.cooldown_s)
        self._quiet = timedelta(seconds=cfg.close_after_s)
        self.set_corridors(corridors)

    def set_corridors(self, corridors: Sequence[Corridor]) -> None:
        """Corridors in force, for severity overrides."""
        self._corridors = {c.id: c for c in corridors}

    @property
    def open_alerts(self) -> tuple[Alert, ...]:
        """Alerts not closed, in opening order."""
        return tuple(sorted(self._live.values(), key=lambda a: (a.opened_at, a.id)))

    def touch(self, subject_id: str, time: datetime) -> None:
        """Note that a subject was seen (for closing alerts of subjects gone silent)."""
        self._seen[subject_id] = time

    def restore(self, alerts: Sequence[Alert]) -> None:
        """Take back alerts from the database after a restart: live ones go on, recent closed ones can reopen.

        They replace what a replay rebuilt; a live alert the database does not know is dropped.
        """
        known = {a.id for a in alerts}
        for key in [k for k, a in self._live.items() if a.id not in known]:
            del self._live[key]
            self._ending.pop(key, None)
        for a in sorted(alerts, key=lambda a: (a.opened_at, a.id)):
            key = (a.subject_id, a.corridor_id, a.kind)
            if a.state is AlertState.CLOSED:
                if key not in self._live or self._live[key].id == a.id:
                    self._live.pop(key, None)
                    self._ending.pop(key, None)
                    self._closed[key] = a
            else:
                self._live[key] = a
                self._seen[a.subject_id] = max(self._seen.get(a.subject_id, a.last_seen), a.last_seen)

    def forget(self, subject_id: str) -> None:
        """Drop what is kept of a subject with no live alert (bounded memory on long runs)."""
        if not any(k[0] == subject_id for k in self._live):
            self._seen.pop(subject_id, None)

    def on_event(self, ev: RuleEvent) -> list[AlertChange]:
        """Apply one rule event; returns the lifecycle changes it caused."""
        changes: list[AlertChange] = []
        for kind in _ENDS.get(ev.kind, ()):
            key = (ev.subject_id, ev.corridor_id, kind)
            # Closing waits out the cooldown: a condition that comes back meanwhile is the same episode.
            if key in self._live and key not in self._ending:
                self._ending[key] = ev
        opens = ev.kind if ev.kind in _OPENS else None
        if opens is not None and opens.value in self.cfg.kinds:
            changes.append(self._open_or_update((ev.subject_id, ev.corridor_id, opens), ev))
        return changes

    def acknowledge(self, alert_id_: str, time: datetime) -> AlertChange | None:
        """Mark a live alert acknowledged; None if it is not live here."""
        for key, alert in self._live.items():
            if alert.id == alert_id_:
                new = dataclasses.replace(alert, state=AlertState.ACKNOWLEDGED)
                self._live[key] = new
                return AlertChange(Change.ACKNOWLEDGED, new)
        return None

    def sweep(self, now: datetime) -> list[AlertChange]:
        """Close instant alerts and alerts of silent subjects whose quiet time has passed by `now`."""
        changes: list[AlertChange] = []
        for key, end in sorted(self._ending.items(), key=lambda kv: (kv[1].time, self._live[kv[0]].id)):
            if end.time + self._cooldown <= now:
                del self._ending[key]
                changes.append(self._end(key, end))
        for key, alert in sorted(self._live.items(), key=lambda kv: (kv[1].opened_at, kv[1].id)):
            if key in self._ending:
                continue
            if key[2] in INSTANT:
                if alert.last_seen + self._quiet <= now:
                    del self._live[key]
                    changes.append(self._close(alert, alert.last_seen + self._quiet, None, "expired"))
                continue
            seen = max(self._seen.get(key[0], alert.last_seen), alert.last_seen)
            if seen + self._quiet <= now:
                del self._live[key]
                changes.append(self._close(alert, seen, None, f"no fix for {self.cfg.close_after_s:.0f} s"))
        for key in [k for k, a in self._closed.items() if a.closed_at and a.closed_at + self._cooldown < now]:
            del self._closed[key]
        return changes

    def finish(self) -> list[AlertChange]:
        """At the end of the data: close alerts whose condition has ended, without waiting."""
        ending = sorted(self._ending.items(), key=lambda kv: (kv[1].time, self._live[kv[0]].id))
        self._ending.clear()
        return [self._end(key, end) for key, end in ending]

    def _end(self, key: Key, end: RuleEvent) -> AlertChange:
        alert = self._live.pop(key)
        return self._close(alert, end.time, end, f"{end.kind.value}: {end.detail}".rstrip(": "))

    def _severity(self, corridor_id: str, kind: EventKind) -> str:
        c = self._corridors.get(corridor_id)
        if c is not None and c.severity is not None:
            return c.severity
        return self.cfg.severity.get(kind.value, "medium")

    def _open_or_update(self, key: Key, ev: RuleEvent) -> AlertChange:
        live = self._live.get(key)
        fields = {
            "last_seen": ev.time, "lon": ev.lon, "lat": ev.lat, "heading_deg": ev.heading_deg,
            "speed_m_s": ev.speed_m_s, "progress_m": ev.progress_m, "detail": ev.detail,
            "corridor_version": ev.corridor_version,
        }
        if live is not None or key in self._closed:
            prior = (live or self._closed[key]).sensors
            fields["sensors"] = tuple(sorted(set(prior) | set(ev.sensors)))
        if live is not None:
            self._ending.pop(key, None)
            new = _with_evidence(dataclasses.replace(live, updates=live.updates + 1, **fields))  # type: ignore[arg-type]
            self._live[key] = new
            return AlertChange(Change.UPDATED, new)
        closed = self._closed.pop(key, None)
        if closed is not None and closed.closed_at is not None and ev.time - closed.closed_at <= self._cooldown:
            new = _with_evidence(dataclasses.replace(closed, state=AlertState.OPEN, closed_at=None,
                                                     updates=closed.updates + 1, **fields))  # type: ignore[arg-type]
            self._live[key] = new
            return AlertChange(Change.OPENED, new)
        new = Alert(
            id=alert_id(ev.subject_id, ev.corridor_id, key[2].value, ev.time), kind=key[2],
            corridor_id=ev.corridor_id, corridor_version=ev.corridor_version, subject_id=ev.subject_id,
            subject_class=ev.subject_class, opened_at=ev.time, last_seen=ev.time, lon=ev.lon, lat=ev.lat,
            severity=Severity(self._severity(ev.corridor_id, key[2])), heading_deg=ev.heading_deg,
            speed_m_s=ev.speed_m_s, progress_m=ev.progress_m, detail=ev.detail, source=ev.source,
            sensors=tuple(sorted(set(ev.sensors))),
        )
        new = _with_evidence(new)
        self._live[key] = new
        return AlertChange(Change.OPENED, new)

    def _close(self, alert: Alert, t: datetime, ev: RuleEvent | None, why: str) -> AlertChange:
        last = max(alert.last_seen, t)
        extra = {} if ev is None else {"lon": ev.lon, "lat": ev.lat}
        closed = _with_evidence(dataclasses.replace(alert, state=AlertState.CLOSED, closed_at=t, last_seen=last,
                                                    detail=f"{alert.detail}; {why}".strip("; "),
                                                    **extra))  # type: ignore[arg-type]
        self._closed[(alert.subject_id, alert.corridor_id, alert.kind)] = closed
        return AlertChange(Change.CLOSED, closed)


def _with_evidence(a: Alert) -> Alert:
    """Point at what supports the alert: the stored track segment of the episode and the source.

    >>> from routewatch.model import EventKind, Severity
    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> _with_evidence(Alert("i", EventKind.CROSS, "c", 1, "s", "car", t, t, 0, 0, Severity.LOW)).evidence
    ('positions?subject=s&since=2026-01-01T00%3A00%3A00%2B00%3A00&until=2026-01-01T00%3A00%3A00%2B00%3A00',)
    """
    end = a.closed_at or a.last_seen
    query = urlencode({"subject": a.subject_id, "since": a.opened_at.isoformat(), "until": end.isoformat()})
    refs = [f"positions?{query}"]
    sources = sorted({s.rpartition("/")[0] or s for s in a.sensors} | ({a.source} if a.source else set()))
    refs.extend(f"source:{s}" for s in sources)
    return dataclasses.replace(a, evidence=tuple(refs))
