"""Nothing lost, nothing twice: routewatch on a real (private) Mosquitto under faults."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from routewatch.config.schema import Settings
from routewatch.schemas import validator
from routewatch.store import Store
from routewatch.store.tables import AlertEventRow
from tests.kits.mqtt_broker import private_broker
from tests.kits.pgcluster import private_cluster

from .mqttkit import (
    AlertTopic,
    client,
    expected_alerts,
    publish_all,
    scenario,
    start_routewatch,
    wait_for,
    wait_online,
    write_config,
)

pytestmark = pytest.mark.slow


def _final(db_url: str) -> tuple[dict, int, int]:
    with Store(db_url) as store:
        alerts = {a.id: a for a in store.alerts.find(limit=100_000)}
        return alerts, store.positions.count(), store.outbox.count_unpublished()


def _check(db_url: str, reports, topic: AlertTopic, allow_redelivery: bool = False) -> None:
    want = expected_alerts(reports, Settings())
    alerts, positions, unpublished = _final(db_url)
    assert positions == len(reports)
    assert unpublished == 0
    assert {k: (a.kind, a.state, a.opened_at, a.closed_at) for k, a in alerts.items()} == {
        k: (a.kind, a.state, a.opened_at, a.closed_at) for k, a in want.items()}
    check = validator("alert.v1")
    for m in topic.messages:  # every payload on the bus is what its schema says (docs/operator.md)
        check.validate(m)
    seen = Counter(topic.change_keys())
    assert {k[0] for k in seen} == set(want)
    dupes = {k: n for k, n in seen.items() if n > 1}
    if allow_redelivery:
        # A publish in flight when the process was killed is sent again (QoS 1 is at least once); it is
        # the same change (same id, change and update count), so consumers drop it by those keys.
        assert sum(n - 1 for n in dupes.values()) <= 20, dupes
        by_key: dict = {}
        for m in topic.messages:
            assert by_key.setdefault((m["id"], m["change"], m["updates"]), m) == m
    else:
        assert not dupes, f"published more than once: {dupes}"


def _missing(db_url: str, want: dict, topic: AlertTopic) -> str:
    """Which expected alerts never reached the topic, and whether the database has them."""
    seen = {k[0] for k in topic.change_keys()}
    stored = _final(db_url)[0]
    gone = sorted(set(want) - seen)
    return (f"missing on the topic {gone[:10]} of {len(gone)}; of those stored {sum(k in stored for k in gone)}; "
            f"stored but not expected {sorted(set(stored) - set(want))[:10]}")


def _published(db_url: str) -> int:
    """How many alert changes the broker has acknowledged (outbox rows marked published)."""
    with Store(db_url) as store, store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(AlertEventRow)
                               .where(AlertEventRow.published_at.is_not(None))) or 0)


def _restart(broker, db_url: str, topic: AlertTopic) -> None:
    """Restart the broker once the observer holds every alert change acknowledged so far.

    Reports are still in flight then (routewatch's side of the restart). What the observer's own
    restored session would hold is left out: with Mosquitto 2.0.11 alert messages queued for it across
    a restart came back as copies of others (a CI run on 2026-12-06 saw 20 changes missing and 20 other
    changes twice, 66 messages for 66 acknowledged changes), which is the broker's store, not routewatch.
    """
    wait_for(lambda: len(topic.change_keys()) >= _published(db_url), 60,
             lambda: f"the observer to catch up ({len(topic.change_keys())} of {_published(db_url)})")
    broker.restart()


def test_broker_restart_mid_stream(db_url, tmp_path):
    reports = scenario(subjects=50, fixes=200)  # 10,000 reports
    (tmp_path / "broker").mkdir()
    with private_broker(tmp_path / "broker") as broker:
        topic = AlertTopic()
        sub = topic.subscribe(broker.port, "test-alerts")
        cfg = write_config(tmp_path / "rw.yaml", port=broker.port, db_url=db_url, client_id="rw-1",
                           journal=tmp_path / "journal")
        proc = start_routewatch(cfg, tmp_path / "rw.log")
        try:
            wait_online(broker.port, "rw-1")
            pub = client(broker.port, "test-pub")
            half = len(reports) // 2
            publish_all(pub, reports, between=lambda i: _restart(broker, db_url, topic) if i == half else None)
            wait_for(lambda: _final(db_url)[1] == len(reports) and _final(db_url)[2] == 0, 120,
                     f"all reports stored and alerts published; log:\n{(tmp_path / 'rw.log').read_text()[-3000:]}")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0
            want = expected_alerts(reports, Settings())
            with Store(db_url) as store:
                events = len(store.outbox.pending(0)) + sum(a.updates + 1 + (a.closed_at is not None)
                                                            for a in store.alerts.find(limit=100_000))
            wait_for(lambda: {k[0] for k in topic.change_keys()} >= set(want), 30,
                     f"every alert on the topic ({len(topic.change_keys())} messages, about {events} changes stored); "
                     f"missing {set(want) - {k[0] for k in topic.change_keys()}}; log:\n"
                     f"{(tmp_path / 'rw.log').read_text()[-3000:]}\nbroker:\n{broker.log_tail(60)}")
        finally:
            if proc.poll() is None:
                proc.kill()
            sub.loop_stop()
        _check(db_url, reports, topic)


def test_sigkill_mid_stream_and_restart(db_url, tmp_path):
    reports = scenario(subjects=40, fixes=150)  # 6,000 reports
    (tmp_path / "broker").mkdir()
    with private_broker(tmp_path / "broker") as broker:
        topic = AlertTopic()
        sub = topic.subscribe(broker.port, "test-alerts")
        cfg = write_config(tmp_path / "rw.yaml", port=broker.port, db_url=db_url, client_id="rw-1",
                           journal=tmp_path / "journal")
        log = tmp_path / "rw.log"
        procs = [start_routewatch(cfg, log)]
        try:
            wait_online(broker.port, "rw-1")
            pub = client(broker.port, "test-pub")
            half = len(reports) // 2
            publish_all(pub, reports[:half])
            wait_for(lambda: _final(db_url)[1] >= half // 3, 60, "some reports stored")
            procs[0].kill()  # SIGKILL: no shutdown code runs
            procs[0].wait(timeout=30)
            publish_all(pub, reports[half:])  # the broker keeps them for rw-1's session
            procs.append(start_routewatch(cfg, log))
            wait_for(lambda: _final(db_url)[1] == len(reports) and _final(db_url)[2] == 0, 120,
                     f"all reports stored and alerts published; log:\n{log.read_text()[-3000:]}")
            procs[1].send_signal(signal.SIGINT)
            assert procs[1].wait(timeout=60) == 0
            want = expected_alerts(reports, Settings())
            wait_for(lambda: {k[0] for k in topic.change_keys()} >= set(want), 30,
                     lambda: f"every alert on the topic; {_missing(db_url, want, topic)}; "
                             f"log:\n{log.read_text()[-3000:]}")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            sub.loop_stop()
        assert "recovered:" in log.read_text()
        _check(db_url, reports, topic, allow_redelivery=True)


def test_database_away_for_30_seconds(tmp_path):
    reports = scenario(subjects=40, fixes=150)  # 6,000 reports
    (tmp_path / "broker").mkdir()
    with private_cluster() as pg, private_broker(tmp_path / "broker") as broker:
        topic = AlertTopic()
        sub = topic.subscribe(broker.port, "test-alerts")
        journal = tmp_path / "journal"
        cfg = write_config(tmp_path / "rw.yaml", port=broker.port, db_url=pg.url, client_id="rw-1", journal=journal)
        log = tmp_path / "rw.log"
        proc = start_routewatch(cfg, log)
        try:
            wait_online(broker.port, "rw-1")
            pub = client(broker.port, "test-pub")
            third = len(reports) // 3
            publish_all(pub, reports[:third])
            wait_for(lambda: _final(pg.url)[1] == third, 60, "the first third stored")
            pg.stop()
            t_down = time.monotonic()
            publish_all(pub, reports[third:])  # keeps coming while the database is away
            wait_for(lambda: any(journal.glob("batch-*.jsonl")), 30, f"rows spooled; log:\n{log.read_text()[-2000:]}")
            time.sleep(max(0.0, 30 - (time.monotonic() - t_down)))
            pg.start()
            wait_for(lambda: _final(pg.url)[1] == len(reports) and _final(pg.url)[2] == 0, 120,
                     f"everything stored after the database returned; log:\n{log.read_text()[-3000:]}")
            assert not any(journal.glob("batch-*.jsonl"))
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0
            want = expected_alerts(reports, Settings())
            wait_for(lambda: {k[0] for k in topic.change_keys()} >= set(want), 30, "every alert on the topic")
        finally:
            if proc.poll() is None:
                proc.kill()
            sub.loop_stop()
        _check(pg.url, reports, topic)
