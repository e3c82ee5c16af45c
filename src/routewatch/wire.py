"""JSON forms of the shared types: the alert.v1 message (outbox rows, MQTT, SSE), the API's alerts, journal rows.

`alert_message` is the one encoder of alert.v1: the outbox row holds its text, and MQTT and SSE send
that text as it is (SSE inside its own envelope, see `sse_alert_data`).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from routewatch.model import (
    Alert,
    AlertChange,
    AlertState,
    Change,
    DeadLetter,
    EventKind,
    Observation,
    Role,
    Severity,
)


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def alert_to_dict(a: Alert) -> dict[str, Any]:
    """The JSON object of an alert (MQTT payloads, `alerts list --json`; schema alert.v1)."""
    return {
        "id": a.id, "kind": a.kind.value, "corridor_id": a.corridor_id, "corridor_version": a.corridor_version,
        "subject_id": a.subject_id, "subject_class": a.subject_class,
        "opened_at": _t(a.opened_at), "last_seen": _t(a.last_seen), "closed_at": _t(a.closed_at),
        "lat": a.lat, "lon": a.lon, "heading_deg": a.heading_deg, "speed_m_s": a.speed_m_s,
        "progress_m": a.progress_m, "severity": a.severity.value, "state": a.state.value, "updates": a.updates,
        "detail": a.detail, "source": a.source, "evidence": list(a.evidence),
        # Optional (v1 stays compatible): the witnesses, present with world tracking.
        **({"sensors": list(a.sensors)} if a.sensors else {}),
    }


def alert_from_dict(d: dict[str, Any]) -> Alert:
    """Inverse of `alert_to_dict`."""
    opened, seen = _dt(d["opened_at"]), _dt(d["last_seen"])
    assert opened is not None and seen is not None
    return Alert(
        id=d["id"], kind=EventKind(d["kind"]), corridor_id=d["corridor_id"], corridor_version=d["corridor_version"],
        subject_id=d["subject_id"], subject_class=d["subject_class"], opened_at=opened, last_seen=seen,
        lon=d["lon"], lat=d["lat"], severity=Severity(d["severity"]), state=AlertState(d["state"]),
        closed_at=_dt(d["closed_at"]), heading_deg=d["heading_deg"], speed_m_s=d["speed_m_s"],
        progress_m=d["progress_m"], updates=d["updates"], detail=d["detail"], source=d["source"],
        evidence=tuple(d["evidence"]), sensors=tuple(d.get("sensors", ())),
    )


def alert_message(change: Change, alert: Alert) -> str:
    """The alert.v1 message of one change: the change, then the alert as stored after it (times in UTC)."""
    utc = dataclasses.replace(
        alert, opened_at=alert.opened_at.astimezone(UTC), last_seen=alert.last_seen.astimezone(UTC),
        closed_at=None if alert.closed_at is None else alert.closed_at.astimezone(UTC),
    )
    # json.dumps' default separators: the bytes MQTT consumers have always received.
    return json.dumps({"change": change.value, **alert_to_dict(utc)})


def change_from_message(message: str) -> AlertChange:
    """Inverse of `alert_message`."""
    values = json.loads(message)
    return AlertChange(Change(values.pop("change")), alert_from_dict(values))


_CHANGE_KEY = '{"change": "'


def message_alert(message: str) -> str:
    """The alert object of an alert.v1 message as the same text: the message without its leading change."""
    if not message.startswith(_CHANGE_KEY):
        raise ValueError(f"not an alert.v1 message from alert_message: {message[:40]!r}")
    # A change value is a plain word (no quote to escape), so its closing quote ends it.
    end = message.index('", ', len(_CHANGE_KEY)) + len('", ')
    return "{" + message[end:]


def sse_alert_data(seq: int, change: Change, time: datetime, actor: str, comment: str, message: str) -> str:
    """The SSE data of one stored alert event: its fields, then its alert.v1 message's alert as it is."""
    head = json.dumps({"seq": seq, "change": change.value, "time": time.isoformat(), "actor": actor,
                       "comment": comment}, separators=(",", ":"))
    return f'{head[:-1]},"alert":{message_alert(message)}}}'


def change_to_dict(c: AlertChange) -> dict[str, Any]:
    """An alert lifecycle change: the alert as it is after the change, and what changed."""
    return {"change": c.change.value, "alert": alert_to_dict(c.alert)}


def change_from_dict(d: dict[str, Any]) -> AlertChange:
    """Inverse of `change_to_dict`."""
    return AlertChange(Change(d["change"]), alert_from_dict(d["alert"]))


def observation_to_dict(o: Observation) -> dict[str, Any]:
    """A position row."""
    return {
        "subject_id": o.subject_id, "time": _t(o.time), "lon": o.lon, "lat": o.lat, "alt_m": o.alt_m,
        "subject_class": o.subject_class, "role": o.role.value, "confidence": o.confidence, "source": o.source,
        "speed_m_s": o.speed_m_s, "heading_deg": o.heading_deg, "accuracy_m": o.accuracy_m,
    }


def observation_from_dict(d: dict[str, Any]) -> Observation:
    """Inverse of `observation_to_dict`."""
    t = _dt(d["time"])
    assert t is not None
    return Observation(
        subject_id=d["subject_id"], time=t, lon=d["lon"], lat=d["lat"], alt_m=d["alt_m"],
        subject_class=d["subject_class"], role=Role(d["role"]), confidence=d["confidence"], source=d["source"],
        speed_m_s=d["speed_m_s"], heading_deg=d["heading_deg"], accuracy_m=d["accuracy_m"],
    )


def dead_letter_to_dict(x: DeadLetter) -> dict[str, Any]:
    """A dead-letter row."""
    return {"topic": x.topic, "reason": x.reason, "payload_excerpt": x.payload_excerpt,
            "received_at": _t(x.received_at), "size_bytes": x.size_bytes}


def dead_letter_from_dict(d: dict[str, Any]) -> DeadLetter:
    """Inverse of `dead_letter_to_dict`."""
    t = _dt(d["received_at"])
    assert t is not None
    return DeadLetter(d["topic"], d["reason"], d["payload_excerpt"], t, d["size_bytes"])
