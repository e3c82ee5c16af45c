"""Alert snapshots in the store, SQLite and PostgreSQL: put/get per camera, the alert row's reference, migrations."""

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


# Snapshots of one alert from several cameras, put in this order: (camera, seed of its JPEG).
CAMERA_CASES = [
    pytest.param([], [], id="none"),
    pytest.param([("gate", 1)], ["gate"], id="one-camera"),
    pytest.param([("gate", 1), ("tower", 2)], ["gate", "tower"], id="two-cameras"),
    pytest.param([("tower", 2), ("gate", 1)], ["tower", "gate"], id="first-stored-first"),
    pytest.param([("gate", 1), ("tower", 2), ("gate", 3), ("tower", 4)], ["gate", "tower"], id="replays-keep-each"),
]


@pytest.mark.parametrize(("puts", "cameras"), CAMERA_CASES)
def test_one_snapshot_per_alert_and_camera(store: Store, puts: list[tuple[str, int]], cameras: list[str]) -> None:
    alert, other = make_alert("w/1"), make_alert("w/2", opened=5)
    store.batches.write(lifecycle(alert) + lifecycle(other), [])
    store.snapshots.put(snap(other.id, camera="gate", jpeg=jpeg_of(seed=99)))  # another alert's: never mixed in
    ids: dict[str, int] = {}
    kept: dict[str, Snapshot] = {}
    for camera, seed in puts:
        s = snap(alert.id, camera=camera, jpeg=jpeg_of(seed=seed))
        sid = store.snapshots.put(s)
        assert ids.setdefault(camera, sid) == sid  # idempotent per (alert, camera)
        kept.setdefault(camera, s)
    assert store.snapshots.cameras(alert.id) == cameras
    assert store.snapshots.cameras_of([alert.id, other.id, "nope"]) == (
        {alert.id: cameras, other.id: ["gate"]} if cameras else {other.id: ["gate"]})
    for camera in cameras:
        assert store.snapshots.get(alert.id, camera) == kept[camera]
    assert store.snapshots.get(alert.id) == (kept[cameras[0]] if cameras else None)  # no camera: the first
    assert store.snapshots.get(alert.id, "elsewhere") is None
    assert store.snapshots.alert_ids_with([alert.id, other.id]) == ({alert.id, other.id} if cameras else {other.id})
    assert store.snapshots.count() == 1 + len(cameras)
    with store.engine.connect() as conn:
        ref = conn.execute(text("SELECT snapshot_id FROM alerts WHERE id = :id"), {"id": alert.id}).scalar_one()
    assert ref == (ids[cameras[0]] if cameras else None)


def test_cameras_of_many_alerts_and_of_none(store: Store) -> None:
    alerts = [make_alert(f"w/{i}", opened=i) for i in range(3)]
    store.batches.write([c for a in alerts for c in lifecycle(a)], [])
    store.snapshots.put(snap(alerts[0].id, camera="b"))
    store.snapshots.put(snap(alerts[0].id, camera="a"))
    store.snapshots.put(snap(alerts[2].id, camera="a"))
    assert store.snapshots.cameras_of([]) == {}
    assert store.snapshots.cameras_of([a.id for a in alerts] * 2) == {alerts[0].id: ["b", "a"], alerts[2].id: ["a"]}
    assert store.snapshots.cameras(alerts[1].id) == [] and store.snapshots.cameras("nope") == []


def test_migration_0010_keeps_the_first_snapshot_per_alert_on_downgrade(db_url: str) -> None:
    upgrade(db_url)
    alerts = [make_alert(f"w/{i}", opened=i) for i in range(3)]
    with Store(db_url) as store:
        store.batches.write([c for a in alerts for c in lifecycle(a)], [])
        first = {alerts[0].id: store.snapshots.put(snap(alerts[0].id, camera="tower"))}
        store.snapshots.put(snap(alerts[0].id, camera="gate", jpeg=jpeg_of(seed=5)))
        first[alerts[1].id] = store.snapshots.put(snap(alerts[1].id, camera="gate"))
        store.snapshots.put(snap(alerts[1].id, camera="tower"))
        store.snapshots.put(snap(alerts[1].id, camera="drone"))

        def stored() -> tuple[dict[str, int], dict[str, int | None]]:
            with store.engine.connect() as conn:
                snaps = {r.alert_id: r.id for r in conn.execute(text("SELECT id, alert_id FROM snapshots"))}
                refs = {r.id: r.snapshot_id for r in conn.execute(text("SELECT id, snapshot_id FROM alerts"))}
            return snaps, refs

        downgrade(db_url, "0009")
        snaps, refs = stored()
        assert snaps == first  # one per alert, the first stored
        assert refs == {alerts[0].id: first[alerts[0].id], alerts[1].id: first[alerts[1].id], alerts[2].id: None}
        uniques = inspect(store.engine).get_unique_constraints("snapshots")
        assert [u["column_names"] for u in uniques] == [["alert_id"]]

        upgrade(db_url)
        assert stored() == (snaps, refs)
        assert store.snapshots.cameras(alerts[0].id) == ["tower"] and store.snapshots.cameras(alerts[1].id) == ["gate"]
        store.snapshots.put(snap(alerts[1].id, camera="tower"))  # a second camera is welcome again
        assert store.snapshots.cameras(alerts[1].id) == ["gate", "tower"]
        assert store.snapshots.get(alerts[1].id) is not None and store.snapshots.get(alerts[1].id).camera == "gate"
