"""The alert.v1 message (wire.alert_message) against its schema, over a table of alerts; its inverse and its alert."""

from __future__ import annotations

import dataclasses
import itertools
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from routewatch.model import ALERT_KINDS, Alert, AlertChange, AlertState, Change, EventKind, Severity, alert_id
from routewatch.schemas import load_schema, validator
from routewatch.wire import alert_message, alert_to_dict, change_from_message, message_alert, sse_alert_data

T0 = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
OPTIONAL = {"heading_deg": 359.5, "speed_m_s": 0.0, "progress_m": 1234.5, "detail": 'crossed "left" → right\n',
            "source": "cam1", "evidence": ("positions?subject=s&since=a&until=b", "snapshot:ü"),
            "sensors": ("cam-a/7", "cam-b/12")}


def alert(kind: EventKind, *, full: bool, closed: bool) -> Alert:
    """An alert of `kind` with every optional field set (`full`) or left at its default."""
    a = Alert(alert_id("s/1", "c1", kind.value, T0), kind, "c1", 3, "s/1", "person", T0, T0 + timedelta(seconds=4),
              lon=-179.5, lat=89.25, severity=Severity.HIGH, updates=2)
    if full:
        a = dataclasses.replace(a, **OPTIONAL)  # type: ignore[arg-type]
    if closed:
        a = dataclasses.replace(a, state=AlertState.CLOSED, closed_at=T0 + timedelta(seconds=9))
    return a


TABLE = [
    pytest.param(change, alert(kind, full=full, closed=closed),
                 id=f"{change.value}-{kind.value}-{'full' if full else 'bare'}{'-closed' if closed else ''}")
    for change, kind, full, closed in itertools.product(Change, ALERT_KINDS, (True, False), (True, False))
]


@pytest.mark.parametrize(("change", "a"), TABLE)
def test_message_validates_and_reads_back(change: Change, a: Alert) -> None:
    message = alert_message(change, a)
    values = json.loads(message)
    errors = [e.message for e in validator("alert.v1").iter_errors(values)]
    assert errors == []
    assert list(values) == ["change", *alert_to_dict(a)]  # the change first, then the alert's keys in order
    assert change_from_message(message) == AlertChange(change, a)
    assert message.isascii()


def test_schema_names_every_key_the_encoder_writes() -> None:
    keys = list(json.loads(alert_message(Change.OPENED, alert(EventKind.ENTER, full=True, closed=True))))
    schema = load_schema("alert.v1")
    assert set(keys) == set(schema["properties"])
    assert schema["properties"]["kind"]["enum"] == [k.value for k in ALERT_KINDS]
    assert schema["properties"]["change"]["enum"] == [c.value for c in Change]


def test_times_are_written_in_utc() -> None:
    zone = timezone(timedelta(hours=-5))
    a = alert(EventKind.DWELL, full=False, closed=True)
    local = dataclasses.replace(a, opened_at=a.opened_at.astimezone(zone), last_seen=a.last_seen.astimezone(zone),
                                closed_at=a.closed_at.astimezone(zone) if a.closed_at else None)
    values = json.loads(alert_message(Change.CLOSED, local))
    assert (values["opened_at"], values["last_seen"], values["closed_at"]) == (
        "2026-03-01T12:00:00.250000+00:00", "2026-03-01T12:00:04.250000+00:00", "2026-03-01T12:00:09.250000+00:00")
    assert alert_message(Change.CLOSED, local) == alert_message(Change.CLOSED, a)


@pytest.mark.parametrize("change", list(Change))
def test_the_alert_of_a_message_is_its_own_text(change: Change) -> None:
    message = alert_message(change, alert(EventKind.ALONG, full=True, closed=False))
    body = message_alert(message)
    assert message.endswith(body[1:]) and json.loads(body) == {k: v for k, v in json.loads(message).items()
                                                                 if k != "change"}
    data = sse_alert_data(7, change, T0, "ana", "on it", message)
    assert json.loads(data) == {"seq": 7, "change": change.value, "time": T0.isoformat(), "actor": "ana",
                                "comment": "on it", "alert": json.loads(body)}
    assert data.endswith(',"alert":' + body + "}")


def test_message_alert_refuses_other_text() -> None:
    with pytest.raises(ValueError, match=r"not an alert\.v1 message"):
        message_alert('{"id": "x", "change": "opened"}')
