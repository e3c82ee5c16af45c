"""Recorded segments and recording events in the store, on SQLite and PostgreSQL, and migration 0005."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import inspect

from routewatch.model import AlertChange, Box, Change, Severity
from routewatch.recording.boxlog import pack_boxes
from routewatch.recording.frameindex import pack_times
from routewatch.store import RecordedSegment, RecordingEvent, Store, current_revision, downgrade, upgrade
from tests.adapters.test_store import at, lifecycle, make_alert, stored_alerts


def segment(start_s: float, camera: str = "gate", frames: int = 5, **kw: Any) -> RecordedSegment:
    times = [at(start_s + i / 5) for i in range(frames)]
    values: dict[str, Any] = {
        "camera": camera, "path": f"{camera}/2026-05-01/{start_s:09.3f}Z.mp4", "start": times[0], "end": times[-1],
        "frames": frames, "size_bytes": 1234, "codec": "mp4v", "width": 640, "height": 480,
        "created_at": at(1000), "times": pack_times(times),
        "boxes": pack_boxes([(Box(1, 2, 3, 4, "car", 0.5, track="1"),)] * frames),
    }
    values.update(kw)
    return RecordedSegment(**values)


def test_put_and_read_segments_by_camera_and_time(store: Store) -> None:
    a, b, c = segment(0), segment(60), segment(120)
    other = segment(0, camera="pier")
    ids = [store.recordings.put_segment(s) for s in (b, a, c, other)]
    assert len(set(ids)) == 4
    got = store.recordings.segments("gate", blobs=True)
    assert [dataclasses.replace(s, id=0) for s in got] == [a, b, c]  # oldest first, blobs exactly as put
    assert [s.path for s in store.recordings.segments("gate", at(59), at(61))] == [b.path]  # overlap: a ends at 0.8
    assert [s.path for s in store.recordings.segments("gate", at(0.8), at(60))] == [a.path, b.path]
    assert store.recordings.segments("gate", at(500), at(600)) == []
    assert store.recordings.segments("gate")[0].times == b""  # without blobs unless asked
    assert store.recordings.cameras() == ["gate", "pier"]
    assert store.recordings.paths("pier") == {other.path}


def test_put_is_idempotent_by_camera_and_start(store: Store) -> None:
    first = store.recordings.put_segment(segment(0))
    again = store.recordings.put_segment(segment(0, frames=7, size_bytes=999))
    assert again == first
    (only,) = store.recordings.segments("gate")
    assert (only.frames, only.size_bytes) == (7, 999)


def test_delete_returns_the_paths_of_rows_that_were_there(store: Store) -> None:
    ids = [store.recordings.put_segment(segment(s)) for s in (0, 60, 120)]
    assert store.recordings.delete_segments([ids[0], ids[2], 12345]) == [segment(0).path, segment(120).path]
    assert store.recordings.delete_segments([ids[0]]) == []
    assert store.recordings.delete_segments([]) == []
    assert [s.id for s in store.recordings.segments("gate")] == [ids[1]]


@pytest.mark.parametrize(("change", "message"), [
    ({"path": "/etc/passwd"}, "relative"),
    ({"path": "gate/../../x.mp4"}, "relative"),
    ({"path": "gate\\x.mp4"}, "relative"),
    ({"camera": ""}, "camera"),
    ({"width": 0}, "positive"),
    ({"size_bytes": -1}, "positive"),
    ({"end": at(-5)}, "before it starts"),
    ({"created_at": at(0).replace(tzinfo=None)}, "naive"),
])
def test_bad_segments_are_refused(store: Store, change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.recordings.put_segment(segment(0, **change))
    assert store.recordings.segments("gate") == []


def test_recording_events(store: Store) -> None:
    stop = RecordingEvent("gate", at(10), "stopped", "disk full: 5 bytes free", 5)
    store.recordings.add_event(RecordingEvent("pier", at(5), "stopped", "write error", None))
    store.recordings.add_event(stop)
    store.recordings.add_event(RecordingEvent("gate", at(70), "resumed", "3000000000 bytes free", 3_000_000_000))
    assert [e.kind for e in store.recordings.events("gate")] == ["stopped", "resumed"]
    assert store.recordings.events("gate")[0] == stop
    assert [e.camera for e in store.recordings.events(since=at(6))] == ["gate", "gate"]
    with pytest.raises(ValueError, match="kind"):
        store.recordings.add_event(RecordingEvent("gate", at(80), "exploded", ""))


def test_alert_spans_overlapping_a_window(store: Store) -> None:
    closed = make_alert("gate/1", opened=100, severity=Severity.HIGH, source="gate")  # 100 .. 110 (lifecycle)
    still_open = make_alert("s2", opened=200)
    seen = dataclasses.replace(still_open, last_seen=at(230), updates=1)
    store.batches.write(
        [*lifecycle(closed), AlertChange(Change.OPENED, still_open), AlertChange(Change.UPDATED, seen)], [])
    spans = store.alerts.spans(at(0), at(1000))
    assert [(s.alert_id, s.opened_at, s.until, s.severity, s.subject_id, s.source) for s in spans] == [
        (closed.id, at(100), at(110), Severity.HIGH, "gate/1", "gate"),
        (still_open.id, at(200), at(230), Severity.MEDIUM, "s2", ""),
    ]
    assert [s.alert_id for s in store.alerts.spans(at(110), at(199))] == [closed.id]  # touching counts
    assert [s.alert_id for s in store.alerts.spans(at(111), at(199))] == []
    assert [s.alert_id for s in store.alerts.spans(at(231), at(300))] == []  # open, but last seen before
    assert [s.alert_id for s in store.alerts.spans(at(0), at(99))] == []


def test_migration_0005_up_and_down(db_url: str) -> None:
    upgrade(db_url)
    assert current_revision(db_url) == "0010"  # head: the footprints, file imports, outbox messages, world tracks after
    with Store(db_url) as store:
        store.recordings.put_segment(segment(0))
        store.batches.write(lifecycle(make_alert()), [])
    downgrade(db_url, "0004")
    with Store(db_url) as store:
        tables = set(inspect(store.engine).get_table_names())
        assert not {"recording_segments", "recording_events"} & tables
        assert len(stored_alerts(store)) == 1  # the rest untouched
    upgrade(db_url)
    with Store(db_url) as store:
        assert store.recordings.segments("gate") == [] and len(store.alerts.find()) == 1
