"""The snapshot sink behind the Writer: which alerts get a snapshot, and failures that never cost the alert."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from routewatch.cameras.framecache import CachedFrame, FrameCache
from routewatch.cameras.snapshots import CameraEvidence, SnapshotTaker
from routewatch.config.store import StoreConfig
from routewatch.model import AlertChange, Box, Change
from routewatch.store import Store
from routewatch.store.writer import Writer
from tests.adapters.test_store import at, lifecycle, make_alert

IMG = np.full((120, 160, 3), 80, np.uint8)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'rw.db'}") as s:
        s.upgrade()
        yield s


def cache_with(*frames: tuple[float, str, np.ndarray]) -> FrameCache:
    cache = FrameCache(10, timedelta(seconds=60))
    for t, track, image in frames:
        cache.put(CachedFrame(at(t), image, (Box(20, 30, 60, 90, "person", 0.8, track=track),)))
    return cache


# (subject of the alert, change, frames in camera "gate"'s cache, counts expected, snapshot stored?)
CASES = [
    pytest.param("gate/1", Change.OPENED, [(0.0, "1", IMG)], {"snapshots": 1}, True, id="opened-on-a-camera-track"),
    pytest.param("gate/1", Change.OPENED, [(-0.5, "1", IMG)], {"snapshots": 1}, True, id="nearest-frame-before"),
    pytest.param("gate/1", Change.OPENED, [(2.0, "1", IMG)], {"snapshots": 1, "snapshots_late": 1}, True,
                 id="only-a-later-frame"),
    pytest.param("gate/1", Change.UPDATED, [(0.0, "1", IMG)], {}, False, id="updates-take-none"),
    pytest.param("gate/1", Change.CLOSED, [(0.0, "1", IMG)], {}, False, id="closes-take-none"),
    pytest.param("drone-7", Change.OPENED, [(0.0, "1", IMG)], {}, False, id="telemetry-subject"),
    pytest.param("other/1", Change.OPENED, [(0.0, "1", IMG)], {}, False, id="unknown-camera"),
    pytest.param("gate/2", Change.OPENED, [(0.0, "1", IMG)], {"snapshot_missing": 1}, False, id="track-not-cached"),
    pytest.param("gate/1", Change.OPENED, [], {"snapshot_missing": 1}, False, id="empty-cache"),
    pytest.param("gate/1", Change.OPENED, [(0.0, "1", np.zeros((120, 160, 4), np.uint8))], {"snapshot_errors": 1},
                 False, id="undrawable-frame"),
]


@pytest.mark.parametrize(("subject", "change", "frames", "counts", "stored"), CASES)
def test_which_alerts_get_a_snapshot(store: Store, subject: str, change: Change,
                                     frames: list[tuple[float, str, np.ndarray]], counts: dict[str, int],
                                     stored: bool) -> None:
    alert = make_alert(subject)
    store.batches.write(lifecycle(alert), [])
    taker = SnapshotTaker(store.snapshots, {"gate": CameraEvidence(cache_with(*frames), jpeg_quality=80)})
    taker([AlertChange(change, alert)])
    assert dict(taker.counts) == counts
    snap = store.snapshots.get(alert.id)
    assert (snap is not None) is stored
    if snap is not None:
        image = cv2.imdecode(np.frombuffer(snap.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (120, 160, 3) and snap.box == (20, 30, 60, 90) and snap.camera == "gate"


def test_a_failing_snapshot_never_costs_the_alert(store: Store) -> None:
    # The snapshot sink fails (a frame it cannot draw; an alert the store does not have): the writer
    # still commits, tells the other sinks, and reports success.
    good, bad = make_alert("gate/1"), make_alert("gate/2", opened=1)
    cache = FrameCache(10, timedelta(seconds=60))
    cache.put(CachedFrame(at(1), np.zeros((120, 160, 4), np.uint8), (Box(1, 1, 5, 5, track="2"),)))
    taker = SnapshotTaker(store.snapshots, {"gate": CameraEvidence(cache)})
    told: list[AlertChange] = []
    writer = Writer(store, StoreConfig(), [taker, told.extend])
    writer.add([AlertChange(Change.OPENED, good), AlertChange(Change.OPENED, bad)], [])
    assert writer.flush() is True
    assert {a.id for a in store.alerts.find()} == {good.id, bad.id}
    assert len(told) == 2 and store.snapshots.count() == 0
    assert taker.counts == {"snapshot_missing": 1, "snapshot_errors": 1}
    # the store refuses the snapshot (its alert was never stored): counted, nothing raised
    ghost = dataclasses.replace(good, id="ghost", subject_id="gate/2", opened_at=at(1))
    other = SnapshotTaker(store.snapshots, {"gate": CameraEvidence(cache_with((1.0, "2", IMG)))})
    other([AlertChange(Change.OPENED, ghost)])
    assert other.counts == {"snapshot_errors": 1} and store.snapshots.count() == 0


def test_background_snapshots_are_stored_off_the_callers_thread(store: Store) -> None:
    alerts = [make_alert("gate/1", opened=i) for i in range(5)]
    store.batches.write([c for a in alerts for c in lifecycle(a)], [])
    cache = cache_with(*[(float(i), "1", IMG) for i in range(5)])
    threads: set[str] = set()
    real_put = store.snapshots.put

    def put(snap):  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)
        return real_put(snap)

    store.snapshots.put = put  # type: ignore[method-assign]
    taker = SnapshotTaker(store.snapshots, {"gate": CameraEvidence(cache)}, background=True)
    taker([AlertChange(Change.OPENED, a) for a in alerts])
    taker.close()
    assert taker.counts == {"snapshots": 5}
    assert store.snapshots.alert_ids_with([a.id for a in alerts]) == {a.id for a in alerts}
    assert threads and all(name.startswith("evidence") for name in threads)
    # each alert got the frame of its own opening time
    for a in alerts:
        snap = store.snapshots.get(a.id)
        assert snap is not None and snap.time == a.opened_at


def test_background_queue_is_bounded(store: Store) -> None:
    alerts = [make_alert("gate/1", opened=i) for i in range(3)]
    store.batches.write([c for a in alerts for c in lifecycle(a)], [])
    taker = SnapshotTaker(store.snapshots, {"gate": CameraEvidence(cache_with((0.0, "1", IMG)))}, background=True,
                          max_pending=0)
    taker([AlertChange(Change.OPENED, a) for a in alerts])
    taker.close()
    assert taker.counts == {"snapshot_dropped": 3} and store.snapshots.count() == 0


IMG_B = np.full((90, 200, 3), 160, np.uint8)  # camera "tower" has another frame size than "gate"


def caches(gate: list[tuple[float, str, np.ndarray]], tower: list[tuple[float, str, np.ndarray]]
           ) -> dict[str, CameraEvidence]:
    return {"gate": CameraEvidence(cache_with(*gate)), "tower": CameraEvidence(cache_with(*tower))}


# A world track's alert: (its sensors, gate's frames, tower's frames, counts, misses by camera, {camera: (time, size)})
WORLD_CASES = [
    pytest.param(("gate/1", "tower/7"), [(0.0, "1", IMG)], [(0.0, "7", IMG_B)], {"snapshots": 2}, {},
                 {"gate": (0.0, (120, 160)), "tower": (0.0, (90, 200))}, id="two-cameras-two-snapshots"),
    pytest.param(("tower/7", "gate/1"), [(-0.5, "1", IMG)], [(-1.0, "7", IMG_B), (0.0, "3", IMG_B)], {"snapshots": 2},
                 {}, {"tower": (-1.0, (90, 200)), "gate": (-0.5, (120, 160))}, id="each-cameras-own-track"),
    pytest.param(("gate/1", "tower/7"), [(0.0, "1", IMG)], [(0.0, "3", IMG_B)],
                 {"snapshots": 1, "snapshot_missing": 1}, {"tower": 1}, {"gate": (0.0, (120, 160))},
                 id="one-camera-missing"),
    pytest.param(("gate/1", "tower/7"), [], [], {"snapshot_missing": 2}, {"gate": 1, "tower": 1}, {},
                 id="both-missing"),
    pytest.param(("gate/1", "tower/7"), [(0.0, "1", IMG)], [(3.0, "7", IMG_B)], {"snapshots": 2, "snapshots_late": 1},
                 {}, {"gate": (0.0, (120, 160)), "tower": (3.0, (90, 200))}, id="one-late"),
    pytest.param(("gate/1", "gate/4", "tower/7"), [(0.0, "4", IMG)], [(0.0, "7", IMG_B)], {"snapshots": 2}, {},
                 {"gate": (0.0, (120, 160)), "tower": (0.0, (90, 200))}, id="two-tracks-of-one-camera-one-snapshot"),
    pytest.param(("gate/1", "patrol/t7", "uav/3", "tower"), [(0.0, "1", IMG)], [(0.0, "7", IMG_B)], {"snapshots": 1},
                 {}, {"gate": (0.0, (120, 160))}, id="other-sensors-ignored"),
    pytest.param((), [(0.0, "1", IMG)], [(0.0, "7", IMG_B)], {}, {}, {}, id="no-sensors-world-subject"),
    pytest.param(("gate/1", "tower/7"), [(0.0, "1", np.zeros((120, 160, 4), np.uint8))], [(0.0, "7", IMG_B)],
                 {"snapshots": 1, "snapshot_errors": 1}, {}, {"tower": (0.0, (90, 200))}, id="one-undrawable"),
]


@pytest.mark.parametrize(("sensors", "gate", "tower", "counts", "missing", "expected"), WORLD_CASES)
def test_a_snapshot_from_each_camera_that_saw_the_alert(
        store: Store, sensors: tuple[str, ...], gate: list[tuple[float, str, np.ndarray]],
        tower: list[tuple[float, str, np.ndarray]], counts: dict[str, int], missing: dict[str, int],
        expected: dict[str, tuple[float, tuple[int, int]]]) -> None:
    alert = make_alert("w-5f3a", sensors=sensors)
    store.batches.write(lifecycle(alert), [])
    taker = SnapshotTaker(store.snapshots, caches(gate, tower))
    taker([AlertChange(Change.OPENED, alert)])
    assert dict(taker.counts) == counts and dict(taker.missing) == missing
    assert store.snapshots.cameras(alert.id) == list(expected)  # stored in the order of the alert's sensors
    for camera, (t, (h, w)) in expected.items():
        snap = store.snapshots.get(alert.id, camera)
        assert snap is not None and snap.camera == camera and snap.time == at(t) and (snap.height, snap.width) == (h, w)
        image = cv2.imdecode(np.frombuffer(snap.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (h, w, 3) and snap.box == (20, 30, 60, 89 if h == 90 else 90)


def test_a_replayed_opening_stores_nothing_new_per_camera(store: Store) -> None:
    alert = make_alert("w-5f3a", sensors=("gate/1", "tower/7"))
    store.batches.write(lifecycle(alert), [])
    taker = SnapshotTaker(store.snapshots, caches([(0.0, "1", IMG)], [(0.0, "7", IMG_B)]))
    taker([AlertChange(Change.OPENED, alert)])
    first = {c: store.snapshots.get(alert.id, c) for c in ("gate", "tower")}
    later = SnapshotTaker(store.snapshots, caches([(0.0, "1", IMG_B)], [(0.0, "7", IMG)]))
    later([AlertChange(Change.OPENED, alert)])
    assert store.snapshots.count() == 2 and {c: store.snapshots.get(alert.id, c) for c in first} == first


def test_background_snapshots_from_two_cameras(store: Store) -> None:
    alerts = [make_alert("w-1", opened=i, sensors=("gate/1", "tower/7")) for i in range(3)]
    store.batches.write([c for a in alerts for c in lifecycle(a)], [])
    frames = caches([(float(i), "1", IMG) for i in range(3)], [(float(i), "7", IMG_B) for i in range(3)])
    taker = SnapshotTaker(store.snapshots, frames, background=True)
    taker([AlertChange(Change.OPENED, a) for a in alerts])
    taker.close()
    assert taker.counts == {"snapshots": 6}
    for a in alerts:
        assert store.snapshots.cameras(a.id) == ["gate", "tower"]
        assert all(s is not None and s.time == a.opened_at
                   for s in (store.snapshots.get(a.id, c) for c in ("gate", "tower")))
