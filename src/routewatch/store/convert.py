"""Mapping between model values and table rows (plain dicts for bulk writes)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from shapely.geometry import mapping, shape

from routewatch.model import (
    Alert,
    AlertChange,
    AlertState,
    Change,
    Corridor,
    CorridorKind,
    DeadLetter,
    Direction,
    EventKind,
    Observation,
    Role,
    Severity,
)
from routewatch.store.tables import AlertRow, CorridorRow
from routewatch.wire import alert_message


def alert_values(alert: Alert) -> dict[str, Any]:
    """Column values of the `alerts` row for an alert."""
    return {
        "id": alert.id,
        "kind": alert.kind.value,
        "corridor_id": alert.corridor_id,
        "corridor_version": alert.corridor_version,
        "subject_id": alert.subject_id,
        "subject_class": alert.subject_class,
        "opened_at": alert.opened_at,
        "last_seen": alert.last_seen,
        "closed_at": alert.closed_at,
        "lon": alert.lon,
        "lat": alert.lat,
        "heading_deg": alert.heading_deg,
        "speed_m_s": alert.speed_m_s,
        "progress_m": alert.progress_m,
        "severity": alert.severity.value,
        "state": alert.state.value,
        "updates": alert.updates,
        "detail": alert.detail,
        "source": alert.source,
        "evidence": list(alert.evidence),
        "sensors": list(alert.sensors),
    }


def row_to_alert(row: AlertRow) -> Alert:
    """The model value of an `alerts` row."""
    return Alert(
        id=row.id,
        kind=EventKind(row.kind),
        corridor_id=row.corridor_id,
        corridor_version=row.corridor_version,
        subject_id=row.subject_id,
        subject_class=row.subject_class,
        opened_at=row.opened_at,
        last_seen=row.last_seen,
        lon=row.lon,
        lat=row.lat,
        severity=Severity(row.severity),
        state=AlertState(row.state),
        closed_at=row.closed_at,
        heading_deg=row.heading_deg,
        speed_m_s=row.speed_m_s,
        progress_m=row.progress_m,
        updates=row.updates,
        detail=row.detail,
        source=row.source,
        evidence=tuple(row.evidence),
        sensors=tuple(row.sensors or ()),
    )


def recency(alert: Alert) -> tuple[datetime, int, bool]:
    """Order of alert states: a replayed older change never overwrites a newer one.

    The same order is applied in SQL by the upsert (see repository._upsert_alerts).
    """
    return (alert.last_seen, alert.updates, alert.closed_at is not None)


def event_time(change: AlertChange) -> datetime:
    """Event time of a lifecycle change: the alert's closed_at for a close, else its last_seen.

    last_seen (not opened_at) for an open, so a reopen within the cooldown is its own event.
    """
    alert = change.alert
    if change.change is Change.CLOSED and alert.closed_at is not None:
        return alert.closed_at
    return alert.last_seen


def event_values(change: AlertChange, stored: Alert | None = None) -> dict[str, Any]:
    """Column values of the `alert_events` row for a change; `stored` is the alert as stored after it."""
    return {
        "alert_id": change.alert.id,
        "change": change.change.value,
        "time": event_time(change),
        "state": change.alert.state.value,
        "updates": change.alert.updates,
        "actor": "",
        "comment": "",
        "message": alert_message(change.change, stored or change.alert),
    }


def storable_text(value: str) -> str:
    """Text any database can hold: NUL written as \\x00, lone surrogates as \\udcXX escapes."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def dead_letter_values(letter: DeadLetter) -> dict[str, Any]:
    """Column values of the `dead_letters` row for a dead letter (texts made storable)."""
    excerpt = storable_text(letter.payload_excerpt)
    return {
        "topic": storable_text(letter.topic),
        "reason": storable_text(letter.reason),
        "payload_excerpt": excerpt,
        "excerpt_sha256": hashlib.sha256(excerpt.encode("utf-8")).hexdigest(),
        "size_bytes": letter.size_bytes,
        "received_at": letter.received_at,
    }


def row_to_dead_letter(values: Any) -> DeadLetter:
    """The model value of a `dead_letters` row (any object with the row's attributes)."""
    return DeadLetter(
        topic=values.topic,
        reason=values.reason,
        payload_excerpt=values.payload_excerpt,
        received_at=values.received_at,
        size_bytes=values.size_bytes,
    )


def position_values(obs: Observation) -> dict[str, Any]:
    """Column values of the `positions` row for an observation."""
    return {
        "subject_id": obs.subject_id,
        "time": obs.time,
        "lon": obs.lon,
        "lat": obs.lat,
        "alt_m": obs.alt_m,
        "subject_class": obs.subject_class,
        "role": obs.role.value,
        "source": obs.source,
        "speed_m_s": obs.speed_m_s,
        "heading_deg": obs.heading_deg,
        "confidence": obs.confidence,
        "accuracy_m": obs.accuracy_m,
    }


def geometry_text(corridor: Corridor) -> str:
    """Canonical GeoJSON text of a corridor's geometry (lon/lat, vertex order kept)."""
    return json.dumps(mapping(corridor.geometry), separators=(",", ":"), sort_keys=True)


def corridor_content(corridor: Corridor) -> dict[str, Any]:
    """The versioned content of a corridor: everything except id, version and audit fields."""
    return {
        "name": corridor.name,
        "kind": corridor.kind.value,
        "geometry": geometry_text(corridor),
        "width_m": corridor.width_m,
        "direction": corridor.direction.value if corridor.direction is not None else None,
        "classes": sorted(corridor.classes),
        "min_dwell_s": corridor.min_dwell_s,
        "min_progress_m": corridor.min_progress_m,
        "severity": corridor.severity.value if corridor.severity is not None else None,
        "roles": sorted(r.value for r in corridor.roles),
        "min_sensors": corridor.min_sensors,
        "confirm_s": corridor.confirm_s,
    }


def row_content(row: CorridorRow) -> dict[str, Any]:
    """The versioned content of a `corridors` row, comparable with corridor_content()."""
    return {
        "name": row.name,
        "kind": row.kind,
        "geometry": row.geometry,
        "width_m": row.width_m,
        "direction": row.direction,
        "classes": sorted(row.classes),
        "min_dwell_s": row.min_dwell_s,
        "min_progress_m": row.min_progress_m,
        "severity": row.severity,
        "roles": sorted(row.roles or ()),
        "min_sensors": row.min_sensors,
        "confirm_s": row.confirm_s,
    }


def row_to_corridor(row: CorridorRow) -> Corridor:
    """The model value of a `corridors` row."""
    return Corridor(
        id=row.id,
        geometry=shape(json.loads(row.geometry)),
        kind=CorridorKind(row.kind),
        version=row.version,
        name=row.name,
        width_m=row.width_m,
        direction=Direction(row.direction) if row.direction is not None else None,
        classes=frozenset(row.classes),
        min_dwell_s=row.min_dwell_s,
        min_progress_m=row.min_progress_m,
        severity=Severity(row.severity) if row.severity is not None else None,
        roles=frozenset(Role(r) for r in row.roles or ()),
        min_sensors=row.min_sensors,
        confirm_s=row.confirm_s,
    )


def row_to_observation(values: Any) -> Observation:
    """The model value of a `positions` row (any object with the row's attributes)."""
    return Observation(
        subject_id=values.subject_id,
        time=values.time,
        lon=values.lon,
        lat=values.lat,
        alt_m=values.alt_m,
        subject_class=values.subject_class,
        role=Role(values.role),
        confidence=values.confidence,
        source=values.source,
        speed_m_s=values.speed_m_s,
        heading_deg=values.heading_deg,
        accuracy_m=values.accuracy_m,
    )
