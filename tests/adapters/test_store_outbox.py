"""Dead letters, the alert outbox, migration 0001 -> 0002 and corridor change notification; real databases."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, insert, text, update

from routewatch.model import AlertChange, AlertState, Change, DeadLetter
from routewatch.store import Store, StoreError, UnsupportedDatabaseError, current_revision, downgrade, upgrade, writes
from routewatch.store.convert import alert_values, corridor_content, event_values
from routewatch.store.db import make_engine
from routewatch.store.notify import RESYNC, CorridorListener
from routewatch.store.tables import AlertEventRow, AlertRow, CorridorRow
from tests.adapters.test_store import T0, at, corridor_set, fix, lifecycle, make_alert, row_counts


def letter(i: int, **kw: Any) -> DeadLetter:
    values: dict[str, Any] = {
        "topic": f"routewatch/v1/pos/cam{i % 3}", "reason": f"schema: 'lat' is required (#{i})",
        "payload_excerpt": '{"subject": "x", "lon": ' + str(i), "received_at": at(i / 10), "size_bytes": 100 + i,
    }
    values.update(kw)
    return DeadLetter(**values)


# -- dead letters -------------------------------------------------------------------------


def test_dead_letters_are_stored_newest_first_and_idempotent(store: Store) -> None:
    letters = [letter(i) for i in range(12_000)]  # more than one insert batch
    store.batches.write([], [], letters)
    assert store.dead_letters.count() == 12_000
    store.batches.write([], [], letters[::-1])  # a replay (e.g. from the journal) adds nothing
    store.batches.write([], [], dead_letters=letters[:10])
    assert store.dead_letters.count() == 12_000
    assert store.dead_letters.recent(limit=3) == letters[::-1][:3]
    assert store.dead_letters.recent(limit=12_001) == letters[::-1]


def test_same_excerpt_at_same_time_on_same_topic_is_one_letter(store: Store) -> None:
    base = letter(1)
    variants = [
        base,
        dataclasses.replace(base, reason="another reason"),  # same natural key: the first one stays
        dataclasses.replace(base, topic="routewatch/v1/det/cam9"),
        dataclasses.replace(base, received_at=at(99)),
        dataclasses.replace(base, payload_excerpt=base.payload_excerpt + " "),
    ]
    store.batches.write([], [], variants)
    assert store.dead_letters.count() == 4
    assert base in store.dead_letters.recent()
    assert variants[1] not in store.dead_letters.recent()


def test_dead_letter_text_any_bytes_can_produce_is_stored(store: Store) -> None:
    # Random payloads decoded leniently: NUL (refused by PostgreSQL text) and lone surrogates.
    nasty = letter(1, payload_excerpt="a\x00b\udcff\u2028é🚁", topic="t/\x00", reason="bad\x00json")
    store.batches.write([], [], [nasty, nasty])
    (got,) = store.dead_letters.recent()
    assert (got.payload_excerpt, got.topic, got.reason) == ("a\\x00b\\udcff\u2028é🚁", "t/\\x00", "bad\\x00json")
    assert (got.received_at, got.size_bytes) == (nasty.received_at, nasty.size_bytes)


def test_dead_letters_share_the_write_transaction(store: Store) -> None:
    naive = dataclasses.replace(letter(5), received_at=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive datetime"):
        store.batches.write(lifecycle(make_alert()), [fix("s1", i) for i in range(10)], [letter(1), naive])
    assert row_counts(store) == dict.fromkeys(row_counts(store), 0)
    assert store.dead_letters.count() == 0
    store.batches.write(lifecycle(make_alert()), [fix("s1", i) for i in range(10)], [letter(1)])
    assert (store.dead_letters.count(), store.positions.count(), store.outbox.count_unpublished()) == (1, 10, 3)


# -- outbox -------------------------------------------------------------------------------


def test_outbox_returns_changes_in_order_with_their_alert(store: Store) -> None:
    changes = lifecycle(make_alert("s1")) + lifecycle(make_alert("s2", opened=3))
    store.batches.write(changes, [])
    pending = store.outbox.pending()
    assert [p.alert_change for p in pending] == changes  # each with the alert as of that change
    assert [p.seq for p in pending] == sorted(p.seq for p in pending)
    assert [p.seq for p in pending] == [e.seq for e in store.alerts.events()]
    assert store.outbox.count_unpublished() == 6

    store.batches.write(changes, [])  # replay: nothing new to publish
    assert store.outbox.count_unpublished() == 6
    assert store.outbox.pending(limit=2) == pending[:2]
    assert store.outbox.pending(limit=0) == []

    assert store.outbox.mark_published([pending[0].seq, pending[2].seq], at(60)) == 2
    assert store.outbox.mark_published([pending[0].seq], at(61)) == 0  # already published
    assert store.outbox.mark_published([], at(61)) == 0
    assert store.outbox.pending() == [pending[1], *pending[3:]]
    assert store.outbox.count_unpublished() == 4
    assert store.outbox.mark_published([p.seq for p in pending] + [10**9], at(62)) == 4
    assert (store.outbox.pending(), store.outbox.count_unpublished()) == ([], 0)
    with pytest.raises(ValueError, match="naive datetime"):
        store.outbox.mark_published([1], T0.replace(tzinfo=None))


def test_outbox_carries_acknowledgements_like_the_stored_alert(store: Store) -> None:
    opened, updated, closed = lifecycle(make_alert())
    store.batches.write([opened], [])
    store.alerts.acknowledge(opened.alert.id, by="ana", comment="on it", time=at(2))
    store.batches.write([updated], [])
    store.batches.write([closed], [])
    pending = store.outbox.pending()
    acked = dataclasses.replace(opened.alert, state=AlertState.ACKNOWLEDGED)
    assert [(p.change, p.alert, p.actor, p.comment) for p in pending] == [
        (Change.OPENED, opened.alert, "", ""),
        (Change.ACKNOWLEDGED, acked, "ana", "on it"),
        (Change.UPDATED, dataclasses.replace(updated.alert, state=AlertState.ACKNOWLEDGED), "", ""),
        (Change.CLOSED, closed.alert, "", ""),
    ]
    assert pending[-1].alert == store.alerts.get(opened.alert.id)
    assert [p.time for p in pending] == [at(0), at(2), at(5), at(10)]


def test_many_unpublished_events_page_in_seq_order(store: Store) -> None:
    alerts = [make_alert(f"s{i}", opened=i) for i in range(3000)]
    store.batches.write([AlertChange(Change.OPENED, a) for a in alerts], [])
    seen: list[int] = []
    while batch := store.outbox.pending(limit=700):
        assert store.outbox.mark_published([p.seq for p in batch], at(5000)) == len(batch)
        seen.extend(p.seq for p in batch)
    assert len(seen) == 3000 and seen == sorted(seen)
    assert store.outbox.count_unpublished() == 0


def test_outbox_reads_only_the_unpublished_index(store: Store) -> None:
    store.batches.write([c for i in range(3000) for c in lifecycle(make_alert(f"s{i}", opened=i))], [])
    pending = store.outbox.pending(limit=9000)
    store.outbox.mark_published([p.seq for p in pending[:-10]], at(9000))
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "published_at IS NULL" in statement:
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        assert [p.seq for p in store.outbox.pending()] == [p.seq for p in pending[-10:]]
        assert store.outbox.count_unpublished() == 10
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert len(seen) == 2
    sqlite = store.engine.dialect.name == "sqlite"
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        for statement, parameters in seen:
            plan = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters)
            assert "ix_alert_events_unpublished" in " ".join(str(row[-1]) for row in plan)


# -- migration from a populated 0001 database ----------------------------------------------


def populate_0001(url: str) -> None:
    """Rows as the 0001 store wrote them (alert events without the 0002 columns, corridors without 0008's
    and 0010's, alerts without 0010's)."""
    with Store(url) as store:
        store.batches.write([], [fix(f"s{i % 5}", i / 4) for i in range(2000)])
        store.runs.record(command="analyze", inputs=["a.tlog"], counters={"fixes": 2000}, started_at=T0)
    changes = [c for i in range(40) for c in lifecycle(make_alert(f"s{i}", opened=i))]
    events = [{k: v for k, v in event_values(c).items() if k != "message"} for c in changes]
    audit = {"author": "ana", "comment": "initial", "created_at": T0, "deleted": False, "version": 1}
    later = {"roles", "min_sensors", "confirm_s"}
    corridors = [{"id": c.id, **{k: v for k, v in corridor_content(c).items() if k not in later}, **audit}
                 for c in corridor_set()]
    alerts = [{k: v for k, v in alert_values(a).items() if k != "sensors"} for a in writes.newest_alerts(changes)]
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(AlertRow), alerts)
            conn.execute(insert(AlertEventRow), events)
            conn.execute(insert(CorridorRow), corridors)
    finally:
        engine.dispose()


def test_upgrade_from_populated_0001_keeps_every_row(db_url: str) -> None:
    upgrade(db_url, "0001")
    populate_0001(db_url)
    with Store(db_url) as store:
        counts = row_counts(store)
        assert counts == {"alerts": 40, "alert_events": 120, "positions": 2000, "corridors": 3, "runs": 1}

        def everything() -> tuple[Any, ...]:
            with store.engine.connect() as conn:  # raw: the store reads corridors of revision 0010 on, alerts too
                corridors = conn.execute(text("SELECT id, version, name, kind, geometry, deleted FROM corridors "
                                              "ORDER BY id, version")).all()
                alerts = conn.execute(text("SELECT id, kind, subject_id, opened_at, last_seen, closed_at, lon, lat, "
                                           "state, updates, detail, source, evidence FROM alerts ORDER BY id")).all()
            return (alerts, store.alerts.events(), [store.positions.of_subject(f"s{i}") for i in range(5)],
                    corridors, store.runs.recent())

        before = everything()
        for step, revision in [(upgrade, "head"), (downgrade, "0001"), (upgrade, "head")]:
            step(db_url, revision)
            assert row_counts(store) == counts
            assert everything() == before
        assert current_revision(db_url) == "0010"
        assert [c.id for c in store.corridors.current()] == [c.id for c in corridor_set()]
        # Old events were never published and have no snapshot: not replayed to the field.
        assert (store.outbox.count_unpublished(), store.dead_letters.count()) == (0, 0)
        with store.engine.connect() as conn:
            marked = conn.execute(text("SELECT count(*) FROM alert_events WHERE published_at IS NOT NULL"))
            assert marked.scalar_one() == 120
        # Were an old event put back in the outbox, it is published as the stored alert in its state.
        first = store.alerts.events(limit=1)[0]
        with store.engine.begin() as conn:
            conn.execute(update(AlertEventRow).where(AlertEventRow.seq == first.seq).values(published_at=None))
        (legacy,) = store.outbox.pending()
        stored = store.alerts.get(first.alert_id)
        assert stored is not None and stored.state is AlertState.CLOSED
        assert legacy.alert == dataclasses.replace(stored, state=AlertState.OPEN, updates=0)
        assert store.outbox.mark_published([legacy.seq], at(600)) == 1
        # The upgraded database works as a new one: new changes are outbox entries.
        new = lifecycle(make_alert("s99", opened=500))
        store.batches.write(new, [], [letter(1)])
        assert [p.alert_change for p in store.outbox.pending()] == new
        assert store.dead_letters.count() == 1


# -- corridor change notification ----------------------------------------------------------


def test_corridors_revision_grows_only_with_changes(store: Store) -> None:
    c1, c2, c3 = corridor_set()
    assert store.corridors.revision() == 0
    store.corridors.save([c1, c2, c3], author="ana", comment="", at=T0)
    first = store.corridors.revision()
    store.corridors.save([c3, c2, c1], author="bo", comment="no-op", at=at(1))
    assert store.corridors.revision() == first
    store.corridors.save([c1, dataclasses.replace(c2, width_m=99.0)], author="bo", comment="", at=at(2))
    assert store.corridors.revision() > first  # c2 changed, c3 removed


def test_listener_needs_postgresql(tmp_path: Any) -> None:
    with pytest.raises(UnsupportedDatabaseError, match="corridors_revision"):
        CorridorListener(f"sqlite:///{tmp_path / 'x.db'}")


def test_listener_reports_an_unreachable_server() -> None:
    with pytest.raises(StoreError, match=r"cannot listen for corridor changes on .*127\.0\.0\.1:1/nowhere") as err:
        CorridorListener("postgresql+psycopg://nobody:secret@127.0.0.1:1/nowhere", connect_timeout_s=2)
    assert "secret" not in str(err.value)


@pytest.fixture
def pg_store(postgres_db_url: str) -> Iterator[Store]:
    with Store(postgres_db_url) as s:
        s.upgrade()
        yield s


def wait_in_thread(listener: CorridorListener, timeout_s: float) -> tuple[threading.Thread, list[Any]]:
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(listener.wait(timeout_s)))
    thread.start()
    return thread, got


def collect(listener: CorridorListener, count: int, timeout_s: float = 5.0) -> list[str]:
    """Payloads until `count` arrived or the timeout passed (notifications may come in separate packets)."""
    deadline = time.monotonic() + timeout_s
    payloads: list[str] = []
    while len(payloads) < count and (left := deadline - time.monotonic()) > 0:
        payloads += listener.wait(left) or []
    return payloads


@pytest.mark.postgres
def test_listener_in_another_thread_gets_the_changed_ids(pg_store: Store, postgres_db_url: str) -> None:
    store, url = pg_store, postgres_db_url
    c1, c2, c3 = corridor_set()
    with CorridorListener(url) as listener, Store(url) as other:
        thread, got = wait_in_thread(listener, 10)
        time.sleep(0.1)
        store.corridors.save([c1, c2, c3], author="ana", comment="", at=T0)
        thread.join(10)
        assert got == [['["c1","c2","c3"]']]

        other.corridors.save([c3, c2, c1], author="bo", comment="no-op", at=at(1))
        with pytest.raises(ValueError):
            other.corridors.save([c1, c1], author="bo", comment="rolled back", at=at(1))
        assert listener.wait(0.3) == []

        other.corridors.save([c1, dataclasses.replace(c2, width_m=99.0)], author="bo", comment="", at=at(2))
        other.corridors.save([c1], author="cy", comment="", at=at(3), replace=True)
        assert collect(listener, 2) == ['["c2","c3"]', '["c2"]']  # one notification per commit, in order

        # A lost connection is noticed, re-established, and reported as "reload everything".
        with store.engine.connect() as conn:
            killed = conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )).scalars().all()
        assert killed == [True]
        assert listener.wait(5) == [RESYNC]
        store.corridors.save([c1, c2], author="dee", comment="", at=at(4), replace=False)
        assert collect(listener, 1) == ['["c2"]']
        assert listener.wait(0.2) == []


@pytest.mark.postgres
def test_close_wakes_a_blocked_wait(postgres_db_url: str) -> None:
    listener = CorridorListener(postgres_db_url)
    thread, got = wait_in_thread(listener, 30)
    time.sleep(0.2)
    started = time.monotonic()
    listener.close()
    thread.join(5)
    assert got == [None] and time.monotonic() - started < 2
    assert listener.wait(1) is None
    listener.close()  # twice is fine
