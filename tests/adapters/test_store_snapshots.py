"""Alert snapshots in the store, on SQLite and PostgreSQL: put/get, the alert row's reference, migration 0004."""

from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import inspect, text

from routewatch.model import AlertChange, Change
from routewatch.recording.evidence import encode_jpeg
from routewatch.store import Snapshot, Store, UnknownAlertError, current_revision, downgrade, upgrade
from tests.adapters.test_store import at, fix, lifecycle, make_alert, row_counts, stored_alerts


def jpeg_of(w: int = 64, h: int = 48, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return encode_jpeg((rng.random((h, w, 3)) * 255).astype(np.uint8), quality=90)


def snap(alert_id: str, **kw: Any) -> Snapshot:
    values: dict[str, Any] = {"alert_id": alert_id, "camera": "gate", "time": at(0), "width": 64, "height": 48,
                              "box": (3, 4, 40, 30), "jpeg": jpeg_of()}
    values.update(kw)
    return Snapshot(**values)


def test_put_and_get_round_trip_and_the_alert_references_it(store: Store) -> None:
    alert, other = make_alert("gate/1"), make_alert("gate/2", opened=5)
    store.batches.write(lifecycle(alert) + lifecycle(other), [])
    assert store.snapshots.get(alert.id) is None and store.snapshots.alert_ids_with([alert.id, other.id]) == set()
    stored = snap(alert.id, jpeg=jpeg_of(640, 480, seed=3), width=640, height=480, box=(100, 120, 300, 470))
    sid = store.snapshots.put(stored)
    got = store.snapshots.get(alert.id)
    assert got == stored  # bytes, box and time exactly as put
    assert got is not None and cv2.imdecode(np.frombuffer(got.jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)
    assert store.snapshots.alert_ids_with([alert.id, other.id, "nope"]) == {alert.id}
    with store.engine.connect() as conn:
        ref = conn.execute(text("SELECT snapshot_id FROM alerts WHERE id = :id"), {"id": alert.id}).scalar_one()
    assert ref == sid
    assert store.snapshots.count() == 1


def test_put_is_idempotent_and_keeps_the_first(store: Store) -> None:
    alert = make_alert("gate/1")
    store.batches.write(lifecycle(alert), [])
    first = snap(alert.id)
    sid = store.snapshots.put(first)
    assert store.snapshots.put(first) == sid
    assert store.snapshots.put(snap(alert.id, jpeg=jpeg_of(seed=9))) == sid  # a replay stores nothing new
    assert store.snapshots.get(alert.id) == first and store.snapshots.count() == 1


def test_later_alert_updates_keep_the_reference(store: Store) -> None:
    alert = make_alert("gate/1")
    opened, updated, closed = lifecycle(alert)
    store.batches.write([opened], [])
    store.snapshots.put(snap(alert.id))
    store.batches.write([updated], [fix("gate/1", 3)])
    store.batches.write([closed], [])
    store.alerts.acknowledge(alert.id, by="ana", comment="seen", time=at(60))
    later = dataclasses.replace(closed.alert, updates=7, last_seen=at(30))
    store.batches.write([AlertChange(Change.UPDATED, later)], [])
    assert store.snapshots.alert_ids_with([alert.id]) == {alert.id}
    assert store.alerts.get(alert.id) == later


def test_unknown_alert(store: Store) -> None:
    with pytest.raises(UnknownAlertError):
        store.snapshots.put(snap("no-such-alert"))
    assert store.snapshots.count() == 0


BAD = [
    pytest.param({"jpeg": b"\x89PNG\r\n\x1a\n" + bytes(100)}, "not a JPEG", id="png-bytes"),
    pytest.param({"jpeg": b""}, "not a JPEG", id="empty-bytes"),
    pytest.param({"width": 0}, "size", id="zero-width"),
    pytest.param({"box": (3, 4, 64, 30)}, "not inside", id="box-past-the-right-edge"),
    pytest.param({"box": (40, 4, 3, 30)}, "not inside", id="box-inverted"),
    pytest.param({"box": (-1, 4, 3, 30)}, "not inside", id="box-negative"),
    pytest.param({"camera": ""}, "camera", id="no-camera"),
    pytest.param({"time": at(0).replace(tzinfo=None)}, "naive", id="naive-time"),
    pytest.param({"jpeg": b"\xff\xd8\xff" + bytes(20_000_001)}, "over the limit", id="oversize"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_snapshots_are_refused(store: Store, change: dict[str, Any], message: str) -> None:
    alert = make_alert("gate/1")
    store.batches.write(lifecycle(alert), [])
    with pytest.raises(ValueError, match=message):
        store.snapshots.put(snap(alert.id, **change))
    assert store.snapshots.count() == 0 and store.snapshots.alert_ids_with([alert.id]) == set()


def test_deleting_an_alert_deletes_its_snapshot(store: Store) -> None:
    alert = make_alert("gate/1")
    store.batches.write(lifecycle(alert), [])
    store.snapshots.put(snap(alert.id))
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM alerts WHERE id = :id"), {"id": alert.id})
    assert store.snapshots.count() == 0


def test_migration_0004_upgrades_a_populated_0003_database_and_back(db_url: str) -> None:
    upgrade(db_url)
    alerts = [make_alert(f"gate/{i}", opened=i) for i in range(6)]
    with Store(db_url) as store:
        store.batches.write([c for a in alerts for c in lifecycle(a)], [fix("gate/1", i) for i in range(20)])
        store.alerts.acknowledge(alerts[2].id, by="ana", comment="ok", time=at(50))
        # The store writes the head's rows: down to 0003 they take that revision's form (0009: snapshots).
        downgrade(db_url, "0003")

        def everything() -> tuple[Any, ...]:
            return (row_counts(store), stored_alerts(store), store.alerts.events(),
                    store.positions.of_subject("gate/1"))

        before = everything()
        upgrade(db_url)
        assert current_revision(db_url) == "0010"  # head: later revisions came after
        assert everything() == before  # nothing lost, existing alerts have no snapshot
        assert store.snapshots.alert_ids_with([a.id for a in alerts]) == set()
        store.snapshots.put(snap(alerts[0].id))
        assert everything() == before and store.snapshots.alert_ids_with([a.id for a in alerts]) == {alerts[0].id}

        downgrade(db_url, "0003")
        assert current_revision(db_url) == "0003"
        assert everything() == before
        assert "snapshots" not in inspect(store.engine).get_table_names()
        assert "snapshot_id" not in {c["name"] for c in inspect(store.engine).get_columns("alerts")}

        upgrade(db_url)
        assert everything() == before and store.snapshots.count() == 0
