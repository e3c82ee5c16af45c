"""The SQL store against real databases (SQLite file and PostgreSQL); no mocks."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from shapely.geometry import LineString, Polygon
from sqlalchemy import text

from routewatch.model import (
    Alert,
    AlertChange,
    AlertState,
    Change,
    Corridor,
    CorridorKind,
    Direction,
    EventKind,
    Observation,
    Role,
    Severity,
    alert_id,
)
from routewatch.store import (
    Snapshot,
    Store,
    StoreError,
    UnknownAlertError,
    UnsupportedDatabaseError,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from routewatch.store.migrate import alembic_config
from routewatch.store.spatial import include_object
from routewatch.store.tables import Base

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TABLES = ("alerts", "alert_events", "positions", "corridors", "runs")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_alert(
    subject: str = "s1", corridor: str = "c1", kind: EventKind = EventKind.ENTER, opened: float = 0.0, **kw: Any
) -> Alert:
    opened_at = at(opened)
    values: dict[str, Any] = {
        "corridor_version": 1, "subject_class": "person", "last_seen": opened_at,
        "lon": 5.1 + opened / 1000, "lat": 52.2, "severity": Severity.MEDIUM,
    }
    values.update(kw)
    return Alert(
        id=alert_id(subject, corridor, kind.value, opened_at), kind=kind, corridor_id=corridor,
        subject_id=subject, opened_at=opened_at, **values,
    )


def lifecycle(alert: Alert) -> list[AlertChange]:
    """opened -> updated 5 s later -> closed 10 s later."""
    updated = dataclasses.replace(alert, last_seen=alert.opened_at + timedelta(seconds=5), updates=1)
    closed = dataclasses.replace(updated, state=AlertState.CLOSED, closed_at=alert.opened_at + timedelta(seconds=10))
    return [AlertChange(Change.OPENED, alert), AlertChange(Change.UPDATED, updated), AlertChange(Change.CLOSED, closed)]


def fix(subject: str, seconds: float, **kw: Any) -> Observation:
    return Observation(subject, at(seconds), 5.0 + seconds / 1e4, 52.0 + seconds / 1e5, **kw)


def stored_alerts(store: Store) -> list[Any]:
    """The alert rows, raw, in the columns every revision has (the store reads alerts of revision 0010 on)."""
    with store.engine.connect() as conn:
        return list(conn.execute(text("SELECT id, kind, corridor_id, subject_id, opened_at, last_seen, closed_at, "
                                      "lon, lat, severity, state, updates, detail, source, evidence "
                                      "FROM alerts ORDER BY id")))


def row_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() for name in TABLES}


def test_upgrade_from_empty_matches_models(db_url: str) -> None:
    assert current_revision(db_url) is None
    upgrade(db_url)
    upgrade(db_url)  # already at head: nothing to do
    assert current_revision(db_url) == head_revision() == "0010"
    with Store(db_url) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []
        assert row_counts(store) == dict.fromkeys(TABLES, 0)


def test_alert_round_trip_is_exact_with_utc_times(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    opened = datetime(2026, 3, 1, 14, 0, 1, 123456, tzinfo=plus2)
    alert = Alert(
        id=alert_id("mav.1", "c-9", "along", opened), kind=EventKind.ALONG, corridor_id="c-9",
        corridor_version=3, subject_id="mav.1", subject_class="car", opened_at=opened,
        last_seen=opened + timedelta(seconds=7, microseconds=1), lon=-0.1 / 3, lat=51.5 + 1 / 3,
        severity=Severity.CRITICAL, state=AlertState.CLOSED, closed_at=opened + timedelta(seconds=8),
        heading_deg=359.999, speed_m_s=12.25, progress_m=1234.5, updates=7, detail="moving along 1.2 km",
        source="mavlink:udpin", evidence=("frame:12", "clip/a.mp4"),
    )
    store.batches.write([AlertChange(Change.CLOSED, alert)], [])
    got = store.alerts.get(alert.id)
    assert got == alert
    assert got is not None and got.opened_at.tzinfo is UTC and got.closed_at is not None
    assert (got.opened_at.hour, got.opened_at.microsecond) == (12, 123456)
    assert store.alerts.get("no-such-id") is None


def test_writing_the_same_changes_twice_changes_nothing(store: Store) -> None:
    changes = lifecycle(make_alert("s1")) + lifecycle(make_alert("s2", opened=3))
    fixes = [fix("s1", i) for i in range(50)] + [fix("s2", i, role=Role.PATROL) for i in range(20)]
    store.batches.write(changes, fixes)
    first = (row_counts(store), store.alerts.find(), store.alerts.events(), store.positions.of_subject("s2"))
    store.batches.write(changes, fixes)
    assert (row_counts(store), store.alerts.find(), store.alerts.events(), store.positions.of_subject("s2")) == first
    assert first[0] == {"alerts": 2, "alert_events": 6, "positions": 70, "corridors": 0, "runs": 0}


@pytest.mark.parametrize("one_call", [True, False], ids=["one-call", "call-per-change"])
def test_updated_then_closed_keeps_one_row_with_latest_state(store: Store, one_call: bool) -> None:
    changes = lifecycle(make_alert())
    for batch in [changes] if one_call else [[c] for c in changes]:
        store.batches.write(batch, [])
    assert store.alerts.find() == [changes[-1].alert]
    events = store.alerts.events(changes[0].alert.id)
    assert [(e.change, e.time, e.state, e.updates) for e in events] == [
        (Change.OPENED, at(0), AlertState.OPEN, 0),
        (Change.UPDATED, at(5), AlertState.OPEN, 1),
        (Change.CLOSED, at(10), AlertState.CLOSED, 1),
    ]
    assert events[0].seq < events[1].seq < events[2].seq


def test_replaying_an_older_change_does_not_reopen(store: Store) -> None:
    changes = lifecycle(make_alert())
    store.batches.write(changes, [])
    store.batches.write(changes[:2], [])  # e.g. a retry of an earlier batch after the close was stored
    assert store.alerts.find() == [changes[-1].alert]
    assert row_counts(store)["alert_events"] == 3


def test_acknowledge_records_who_and_survives_updates(store: Store) -> None:
    opened, updated, closed = lifecycle(make_alert())
    store.batches.write([opened], [])
    acked = store.alerts.acknowledge(opened.alert.id, by="ana", comment="on it", time=at(2))
    assert acked == dataclasses.replace(opened.alert, state=AlertState.ACKNOWLEDGED)
    assert store.alerts.get(opened.alert.id) == acked
    store.batches.write([updated], [])  # the engine does not know about the acknowledgement
    assert store.alerts.get(opened.alert.id) == dataclasses.replace(updated.alert, state=AlertState.ACKNOWLEDGED)
    store.batches.write([closed], [])
    assert store.alerts.get(opened.alert.id) == closed.alert
    assert store.alerts.acknowledge(opened.alert.id, by="bo", comment="late", time=at(20)).state is AlertState.CLOSED
    events = [(e.change, e.time, e.state, e.actor, e.comment) for e in store.alerts.events(opened.alert.id)]
    assert events == [
        (Change.OPENED, at(0), AlertState.OPEN, "", ""),
        (Change.ACKNOWLEDGED, at(2), AlertState.ACKNOWLEDGED, "ana", "on it"),
        (Change.UPDATED, at(5), AlertState.OPEN, "", ""),
        (Change.CLOSED, at(10), AlertState.CLOSED, "", ""),
        (Change.ACKNOWLEDGED, at(20), AlertState.CLOSED, "bo", "late"),
    ]


def test_acknowledge_unknown_alert_is_a_clear_error(store: Store) -> None:
    with pytest.raises(UnknownAlertError, match="no alert with id 'nope'") as err:
        store.alerts.acknowledge("nope", by="ana", comment="", time=T0)
    assert isinstance(err.value, KeyError) and isinstance(err.value, StoreError)
    with pytest.raises(ValueError, match="who acknowledged"):
        store.alerts.acknowledge("nope", by=" ", comment="", time=T0)
    assert row_counts(store)["alert_events"] == 0


def test_positions_are_idempotent_and_filtered_by_time(store: Store) -> None:
    fixes = [fix("s1", i, alt_m=100.5, subject_class="car", confidence=0.75, source="cam1", speed_m_s=3.5,
                 heading_deg=90.0, accuracy_m=2.5) for i in range(10)]
    store.batches.write([], list(reversed(fixes)))
    store.batches.write([], [*fixes[:5], dataclasses.replace(fixes[0], lon=0.0)])  # same key: first write wins
    assert store.positions.count() == 10
    assert store.positions.of_subject("s1") == fixes
    assert store.positions.of_subject("s1", since=at(3), until=at(6)) == fixes[3:6]
    assert store.positions.of_subject("s1", since=at(10)) == []
    assert store.positions.of_subject("other") == []
    assert store.positions.prune(before=at(4)) == 4
    assert store.positions.of_subject("s1") == fixes[4:]



READ_CASES: list[tuple[str, float, float, tuple[int, int] | None, int]] = [
    # name, since, until (seconds), part, batch
    ("whole", 0, 60, None, 20_000),
    ("small batches", 0, 60, None, 7),
    ("until exclusive", 10, 20, None, 5),
    ("empty window", 61, 90, None, 100),
    ("share 0 of 2", 0, 60, (0, 2), 3),
    ("share 1 of 2", 5, 45, (1, 2), 1000),
    ("share of 7", 0, 60, (3, 7), 4),
]


@pytest.mark.parametrize(("since", "until", "part", "batch"), [c[1:] for c in READ_CASES],
                         ids=[c[0] for c in READ_CASES])
def test_iter_positions_reads_what_positions_reads(store: Store, since: float, until: float,
                                                   part: tuple[int, int] | None, batch: int) -> None:
    from routewatch.store.positions import subject_share

    fixes = [fix(f"s{k}", i, alt_m=None if k % 2 else 10.0 + k, subject_class=("car", "person")[k % 2],
                 role=(Role.TARGET, Role.PATROL)[k % 2], confidence=0.5 + k / 100, source=f"cam{k % 3}",
                 speed_m_s=None if i % 3 else 1.5, heading_deg=float(i), accuracy_m=None)
             for i in range(60) for k in range(9)]
    store.batches.write([], fixes)
    want = sorted((f for f in fixes if at(since) <= f.time < at(until)
                   and (part is None or subject_share(f.subject_id, part[1]) == part[0])),
                  key=lambda f: (f.time, f.subject_id))
    chunks = list(store.positions.stream(at(since), at(until), batch=batch, part=part))
    got = [f for c in chunks for f in c]
    assert got == want
    assert all(type(f) is Observation and f.time.tzinfo is not None for f in got)
    assert all(0 < len(c) <= batch for c in chunks[:-1])


@pytest.mark.parametrize(("part", "batch"), [((2, 2), 10), ((-1, 2), 10), ((0, 0), 10), (None, 0)])
def test_iter_positions_refuses_bad_arguments(store: Store, part: tuple[int, int] | None, batch: int) -> None:
    with pytest.raises(ValueError, match=r"part|batch"):
        list(store.positions.stream(at(0), at(1), batch=batch, part=part))

ALERTS = {
    "a1": make_alert("s1", "c1", EventKind.ENTER, 0),
    "a2": make_alert("s2", "c1", EventKind.DWELL, 10, state=AlertState.CLOSED, closed_at=at(15)),
    "a3": make_alert("s1", "c2", EventKind.ALONG, 20),
    "a4": make_alert("s3", "c2", EventKind.ENTER, 20),  # same opened_at as a3: ordered by id
    "a5": make_alert("s2", "c3", EventKind.CROSS, 30, state=AlertState.CLOSED, closed_at=at(30)),
}
FILTER_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("all", {}, ["a1", "a2", "a3", "a4", "a5"]),
    ("kind", {"kind": EventKind.ENTER}, ["a1", "a4"]),
    ("kind none", {"kind": EventKind.BREACH}, []),
    ("corridor", {"corridor_id": "c2"}, ["a3", "a4"]),
    ("subject", {"subject_id": "s2"}, ["a2", "a5"]),
    ("state", {"state": AlertState.CLOSED}, ["a2", "a5"]),
    ("since inclusive", {"since": at(20)}, ["a3", "a4", "a5"]),
    ("until exclusive", {"until": at(20)}, ["a1", "a2"]),
    ("window", {"since": at(5), "until": at(30)}, ["a2", "a3", "a4"]),
    ("empty window", {"since": at(31)}, []),
    ("combined", {"subject_id": "s1", "corridor_id": "c2", "state": AlertState.OPEN}, ["a3"]),
    ("combined none", {"subject_id": "s3", "kind": EventKind.DWELL}, []),
    ("page 1", {"limit": 2}, ["a1", "a2"]),
    ("page 2", {"limit": 2, "offset": 2}, ["a3", "a4"]),
    ("page 3", {"limit": 2, "offset": 4}, ["a5"]),
    ("past the end", {"offset": 5}, []),
    ("limit 0", {"limit": 0}, []),
    ("filtered page", {"state": AlertState.OPEN, "limit": 1, "offset": 1}, ["a3"]),
]


def test_list_alerts_filters_and_pages(store: Store, subtests: pytest.Subtests) -> None:
    store.batches.write([AlertChange(Change.OPENED, a) for a in ALERTS.values()], [])
    for name, filters, expected in FILTER_CASES:
        with subtests.test(msg=name):
            want = sorted((ALERTS[k] for k in expected), key=lambda a: (a.opened_at, a.id))
            assert store.alerts.find(**filters) == want
    assert store.alerts.count_by_kind() == {"enter": 2, "exit": 0, "dwell": 1, "along": 1, "cross": 1, "breach": 0}
    with pytest.raises(ValueError, match="limit and offset"):
        store.alerts.find(offset=-1)


def corridor_set() -> list[Corridor]:
    square = Polygon([(5.0, 52.0), (5.01, 52.0), (5.01, 52.01), (5.0, 52.01)])
    return [
        Corridor("c1", square, CorridorKind.EXCLUSION, name="Farm", severity=Severity.HIGH),
        Corridor("c2", LineString([(5.0, 52.0), (5.02, 52.03), (5.05, 52.04)]), width_m=50.0,
                 direction=Direction.FORWARD, classes=frozenset({"person", "car"}), min_dwell_s=30.0,
                 min_progress_m=100.0, name="Track"),
        Corridor("c3", LineString([(5.1, 52.1), (5.1, 52.2)]), CorridorKind.LINE, name="Border"),
    ]


def test_corridor_versions_tombstones_and_history(store: Store) -> None:
    c1, c2, c3 = corridor_set()
    t1, t2, t3 = at(0), at(60), at(120)
    assert store.corridors.save([c1, c2, c3], author="ana", comment="initial", at=t1) == (c1, c2, c3)
    assert store.corridors.save([c3, c2, c1], author="bo", comment="no-op", at=t2) == (c3, c2, c1)

    c2b = dataclasses.replace(c2, width_m=80.0, version=99)  # the given version is ignored
    c4 = Corridor("c4", c3.geometry.reverse(), CorridorKind.LINE)
    saved = store.corridors.save([c1, c2b, c4], author="bo", comment="widen", at=t2)
    assert [(c.id, c.version) for c in saved] == [("c1", 1), ("c2", 2), ("c4", 1)]
    assert store.corridors.current() == (c1, dataclasses.replace(c2b, version=2), c4)

    history = store.corridors.history("c3")
    assert [(v.corridor, v.author, v.comment, v.created_at, v.deleted) for v in history] == [
        (c3, "ana", "initial", t1, False),
        (dataclasses.replace(c3, version=2), "bo", "widen", t2, True),
    ]
    assert [v.corridor.width_m for v in store.corridors.history("c2")] == [50.0, 80.0]

    # replace=False adds or changes only the given ids; re-adding a deleted id gives a new version.
    c4_reversed = dataclasses.replace(c4, geometry=c3.geometry)  # vertex order is content
    saved = store.corridors.save([c3, c4_reversed], author="cy", comment="restore", at=t3, replace=False)
    assert [(c.id, c.version) for c in saved] == [("c3", 3), ("c4", 2)]
    assert [c.id for c in store.corridors.current()] == ["c1", "c2", "c3", "c4"]
    assert store.corridors.history("nope") == []
    assert row_counts(store)["corridors"] == 8

    with pytest.raises(ValueError, match=r"\['c1'\] appear more than once"):
        store.corridors.save([c1, c1], author="x", comment="", at=t3)
    store.corridors.save([], author="dee", comment="clear", at=t3)
    assert store.corridors.current() == ()
    assert [v.deleted for v in store.corridors.history("c1")] == [False, True]


def test_write_is_one_transaction(store: Store) -> None:
    bad = Observation("s1", datetime(2026, 3, 1, 12, 0), 5.0, 52.0)  # naive time: refused
    with pytest.raises(ValueError, match="naive datetime"):
        store.batches.write(lifecycle(make_alert()), [fix("s1", i) for i in range(100)] + [bad])
    assert row_counts(store) == dict.fromkeys(TABLES, 0)


def test_ten_thousand_positions_in_one_call_are_committed(store: Store, db_url: str) -> None:
    fixes = [fix(f"s{i % 7}", i / 10, alt_m=float(i)) for i in range(10_000)]
    store.batches.write([], fixes)
    with Store(db_url) as other:  # a separate engine sees the committed rows
        assert other.positions.count() == 10_000
        assert other.positions.of_subject("s3") == [f for f in fixes if f.subject_id == "s3"]


MIGRATION_TEST = '''
"""Test-only revision: adds a column to alerts (a table rebuild on SQLite when dropped)."""
import sqlalchemy as sa
from alembic import op

revision = "0010_test"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("note")
'''


def test_migration_downgrade_upgrade_keeps_rows(db_url: str, tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0010_test.py").write_text(MIGRATION_TEST)
    config = alembic_config(extra_version_locations=[versions])
    upgrade(db_url, "0010", config=config)
    with Store(db_url) as store:
        store.batches.write(lifecycle(make_alert()) + lifecycle(make_alert("s2")), [fix("s1", i) for i in range(5)])
        store.alerts.acknowledge(make_alert("s2").id, by="ana", comment="ok", time=at(50))
        store.corridors.save(corridor_set(), author="ana", comment="initial", at=T0)
        store.runs.record(command="analyze", inputs=["a.tlog"], counters={"fixes": 5}, started_at=T0)
        # A snapshot refers to an alert: the SQLite rebuild of `alerts` must keep it and the reference.
        jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256))
        store.snapshots.put(Snapshot(make_alert().id, "cam", at(0), 64, 48, (1, 2, 30, 40), jpeg))

        def snapshot() -> tuple[Any, ...]:
            return (row_counts(store), store.alerts.find(), store.alerts.events(), store.positions.of_subject("s1"),
                    store.corridors.current(), store.runs.recent(), store.snapshots.get(make_alert().id),
                    store.snapshots.alert_ids_with([make_alert().id, make_alert("s2").id]))

        before = snapshot()
        for revision, step in [("0010_test", upgrade), ("0010", downgrade), ("0010_test", upgrade)]:
            step(db_url, revision, config=config)
            assert current_revision(db_url) == revision
            assert snapshot() == before
        downgrade(db_url, "0010", config=config)
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": include_object})
            assert compare_metadata(context, Base.metadata) == []


def test_acknowledge_while_the_pipeline_writes(store: Store, db_url: str) -> None:
    # The web layer acknowledges (read, then write) while the pipeline's worker thread writes;
    # on SQLite this needs BEGIN IMMEDIATE, or the acknowledgement fails with "database is locked".
    alerts = [make_alert(f"s{i}") for i in range(20)]
    store.batches.write([AlertChange(Change.OPENED, a) for a in alerts], [])
    errors: list[BaseException] = []

    def pipeline() -> None:
        try:
            for k in range(1, 101):
                updated = [dataclasses.replace(a, last_seen=at(k), updates=k) for a in alerts]
                store.batches.write([AlertChange(Change.UPDATED, a) for a in updated],
                                    [fix(a.subject_id, k) for a in alerts])
        except BaseException as exc:
            errors.append(exc)

    with Store(db_url) as web:
        thread = threading.Thread(target=pipeline)
        thread.start()
        try:
            for k in range(100):
                web.alerts.acknowledge(alerts[k % 20].id, by="ana", comment="", time=at(k))
        finally:
            thread.join()
    assert errors == []
    assert {a.state for a in store.alerts.find()} == {AlertState.ACKNOWLEDGED}
    assert (store.positions.count(), row_counts(store)["alert_events"]) == (2000, 20 + 2000 + 100)


def test_runs_are_recorded_newest_first(store: Store) -> None:
    first = store.runs.record(command="analyze", inputs=["a.tlog"], counters={"fixes": 10}, started_at=at(0),
                             finished_at=at(5))
    second = store.runs.record(command="run", inputs=["udpin:0.0.0.0:14550"], counters={}, started_at=at(60))
    runs = store.runs.recent()
    assert [(r.id, r.command, r.inputs, r.counters) for r in runs] == [
        (second, "run", ("udpin:0.0.0.0:14550",), {}),
        (first, "analyze", ("a.tlog",), {"fixes": 10}),
    ]
    assert (runs[1].started_at, runs[1].finished_at, runs[0].finished_at) == (at(0), at(5), None)


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'x.db'}") as store, store.engine.connect() as conn:
        pragmas = [conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                   for name in ("journal_mode", "synchronous", "foreign_keys")]
        assert pragmas == ["wal", 1, 1]


@pytest.mark.parametrize("url", ["mysql://u@h/db", "oracle://h/db", "not a url"])
def test_unsupported_database_url_is_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseError):
        Store(url)
