"""What MQTT and SSE send for stored alert changes: pinned to the JSON they sent before the wire format had one home.

`today_alert` is a frozen copy of the alert JSON both channels carried (keys in that order, times in UTC): the
MQTT payload is pinned byte for byte, the SSE message key for key and value for value, in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from routewatch.config.mqtt import MqttOutputConfig
from routewatch.model import Alert, AlertChange, AlertState, Change, EventKind, Severity
from routewatch.outputs.mqtt import AlertPublisher
from routewatch.schemas import validator
from routewatch.store import Store, downgrade, upgrade, writes
from routewatch.store.coltypes import UTCDateTime
from routewatch.store.convert import alert_values
from routewatch.store.db import make_engine
from routewatch.store.tables import AlertRow
from routewatch.web.routes.live import LiveHub
from routewatch.wire import message_alert
from tests.adapters.test_store import at, lifecycle, make_alert


def _utc(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def today_alert(a: Alert) -> dict[str, Any]:
    """The alert object as MQTT and SSE carried it (frozen here on purpose: do not import the encoder)."""
    return {
        "id": a.id, "kind": a.kind.value, "corridor_id": a.corridor_id, "corridor_version": a.corridor_version,
        "subject_id": a.subject_id, "subject_class": a.subject_class,
        "opened_at": _utc(a.opened_at), "last_seen": _utc(a.last_seen), "closed_at": _utc(a.closed_at),
        "lat": a.lat, "lon": a.lon, "heading_deg": a.heading_deg, "speed_m_s": a.speed_m_s,
        "progress_m": a.progress_m, "severity": a.severity.value, "state": a.state.value, "updates": a.updates,
        "detail": a.detail, "source": a.source, "evidence": list(a.evidence),
    }


def today_mqtt(change: Change, a: Alert) -> bytes:
    """The MQTT payload as it was published."""
    return json.dumps({"change": change.value, **today_alert(a)}).encode()


def today_sse(seq: int, change: Change, time: datetime, a: Alert, actor: str = "", comment: str = "") -> str:
    """The SSE data line as it was sent (the event time as the store returns it: UTC)."""
    data = {"seq": seq, "change": change.value, "time": _utc(time), "actor": actor, "comment": comment,
            "alert": today_alert(a)}
    return json.dumps(data, separators=(",", ":"))


CEST = timezone(timedelta(hours=2))


def stored_changes() -> list[AlertChange]:
    """Every kind; optional fields present and absent; text that needs escaping; times given in another zone."""
    full = make_alert("s2", "c2", EventKind.ALONG, opened=30, heading_deg=271.25, speed_m_s=1.5, progress_m=812.0,
                      severity=Severity.CRITICAL, detail='moving "along" → north\n', source="cam1",
                      evidence=("positions?subject=s2&since=a", "snapshot:é"), subject_class="car")
    zoned = make_alert("s3", "c3", EventKind.DWELL, opened=60)
    zoned = dataclasses.replace(zoned, opened_at=zoned.opened_at.astimezone(CEST),
                                last_seen=zoned.last_seen.astimezone(CEST), lon=-0.5, lat=-33.0)
    instants = [AlertChange(Change.OPENED, make_alert(f"k{i}", "c1", kind, opened=90 + i, corridor_version=7,
                                                      severity=Severity.INFO))
                for i, kind in enumerate((EventKind.CROSS, EventKind.EXIT, EventKind.BREACH))]
    return [*lifecycle(make_alert("s1")), *lifecycle(full), AlertChange(Change.OPENED, zoned), *instants]


def read_sse(store: Store, count: int) -> list[str]:
    """The data of the first `count` alert messages a client resuming from seq 0 receives."""

    async def collect() -> list[str]:
        out: list[str] = []
        stream = LiveHub(store.alerts, poll_s=0.01).stream(after=0)
        async for text in stream:
            if text.startswith("id: "):
                out.append(text)
            if len(out) == count:
                break
        await stream.aclose()
        return out

    messages = asyncio.run(collect())
    data = []
    for text, seq in zip(messages, [e.seq for e in store.alerts.events()], strict=False):
        head, kind, line, end = text.split("\n", 3)
        assert (head, kind, end) == (f"id: {seq}", "event: alert", "\n")
        data.append(line.removeprefix("data: "))
    return data


def publish_pending(store: Store) -> list[tuple[str, bytes]]:
    """(topic, payload) of what the MQTT publisher sends for the store's outbox."""
    sent: list[tuple[str, bytes]] = []
    publisher = AlertPublisher(store.outbox, lambda topic, payload: sent.append((topic, payload)) or len(sent),
                               MqttOutputConfig())
    publisher.pump()
    return sent


def ordered(text: str | bytes) -> Any:
    return json.loads(text, object_pairs_hook=list)


def test_mqtt_and_sse_send_what_they_sent_before(store: Store) -> None:
    changes = stored_changes()
    store.batches.write(changes[:1], [])
    store.alerts.acknowledge(changes[0].alert.id, by="ana", comment="on it ✓", time=at(2))
    store.batches.write(changes[1:], [])
    acked = dataclasses.replace(changes[1].alert, state=AlertState.ACKNOWLEDGED)
    # (change, alert as stored after it, event time, actor, comment), in seq order
    expected: list[tuple[Change, Alert, datetime, str, str]] = [
        (Change.OPENED, changes[0].alert, at(0), "", ""),
        (Change.ACKNOWLEDGED, dataclasses.replace(changes[0].alert, state=AlertState.ACKNOWLEDGED), at(2), "ana",
         "on it ✓"),
        (Change.UPDATED, acked, at(5), "", ""),
        (Change.CLOSED, changes[2].alert, at(10), "", ""),
    ] + [(c.change, c.alert, c.alert.closed_at or c.alert.last_seen, "", "") for c in changes[3:]]

    sent = publish_pending(store)
    assert sent == [(f"routewatch/v1/alerts/{a.kind.value}", today_mqtt(c, a)) for c, a, *_ in expected]
    assert all(validator("alert.v1").is_valid(json.loads(payload)) for _, payload in sent)

    seqs = [e.seq for e in store.alerts.events()]
    sse = read_sse(store, len(expected))
    assert [ordered(d) for d in sse] == [
        ordered(today_sse(seq, c, t, a, actor, comment)) for seq, (c, a, t, actor, comment) in zip(
            seqs, expected, strict=True)]

    # One outbox row, one text: SSE's alert is the MQTT payload's alert, the same bytes (the change moved out).
    pending = store.outbox.pending()
    assert [payload for _, payload in sent] == [p.message.encode() for p in pending]
    for data, p in zip(sse, pending, strict=True):
        assert data.endswith(',"alert":' + message_alert(p.message) + "}")
        assert p.message == '{"change": "' + p.change.value + '", ' + message_alert(p.message)[1:]


def snapshot_0008(a: Alert) -> dict[str, Any]:
    """An outbox snapshot as the store wrote it up to revision 0008 (frozen copy of convert.alert_json)."""
    return {
        "id": a.id, "kind": a.kind.value, "corridor_id": a.corridor_id, "corridor_version": a.corridor_version,
        "subject_id": a.subject_id, "subject_class": a.subject_class, "opened_at": _utc(a.opened_at),
        "last_seen": _utc(a.last_seen), "closed_at": _utc(a.closed_at), "lon": a.lon, "lat": a.lat,
        "heading_deg": a.heading_deg, "speed_m_s": a.speed_m_s, "progress_m": a.progress_m,
        "severity": a.severity.value, "state": a.state.value, "updates": a.updates, "detail": a.detail,
        "source": a.source, "evidence": list(a.evidence),
    }


OLD_EVENTS = sa.table(
    "alert_events", sa.column("seq", sa.Integer()), sa.column("alert_id", sa.String()),
    sa.column("change", sa.String()), sa.column("time", UTCDateTime()), sa.column("state", sa.String()),
    sa.column("updates", sa.Integer()), sa.column("actor", sa.String()), sa.column("comment", sa.Text()),
    sa.column("snapshot", sa.JSON()),
)


def test_unpublished_events_of_an_0008_database_go_out_as_before(db_url: str) -> None:
    upgrade(db_url, "0008")
    changes = stored_changes()
    rows = [{"alert_id": c.alert.id, "change": c.change.value, "time": c.alert.closed_at or c.alert.last_seen,
             "state": c.alert.state.value, "updates": c.alert.updates, "actor": "", "comment": "",
             "snapshot": snapshot_0008(c.alert)} for c in changes]
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            # The alerts as that revision stored them (`sensors` came with 0010).
            conn.execute(sa.insert(AlertRow), [{k: v for k, v in alert_values(a).items() if k != "sensors"}
                                               for a in writes.newest_alerts(changes)])
            conn.execute(sa.insert(OLD_EVENTS), rows)
    finally:
        engine.dispose()

    def old_snapshots() -> list[Any]:
        with Store(db_url) as store, store.engine.connect() as conn:
            return list(conn.execute(sa.select(OLD_EVENTS.c.snapshot).order_by(OLD_EVENTS.c.seq)).scalars())

    assert old_snapshots() == [r["snapshot"] for r in rows]
    for step, revision in [(upgrade, "head"), (downgrade, "0008"), (upgrade, "head")]:
        step(db_url, revision)
        if revision == "0008":
            assert old_snapshots() == [r["snapshot"] for r in rows]
            continue
        with Store(db_url) as store:
            assert [payload for _, payload in publish_pending(store)] == [today_mqtt(c.change, c.alert)
                                                                          for c in changes]
            sse = read_sse(store, len(changes))
            assert [ordered(d) for d in sse] == [
                ordered(today_sse(e.seq, c.change, r["time"], c.alert)) for e, c, r in zip(
                    store.alerts.events(), changes, rows, strict=True)]
