"""Camera footprints in the store, on SQLite and PostgreSQL, and migration 0006."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import LineString, Polygon, box
from sqlalchemy import inspect, text

from routewatch.geo.footprint import Footprint
from routewatch.model import Corridor
from routewatch.store import Store, current_revision, downgrade, upgrade

T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
SQ = box(23.5, 17.2, 23.501, 17.201)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_round_trip_and_extension(store: Store) -> None:
    first = Footprint("gate", at(0), at(1), SQ)
    store.coverage.put_footprints([first])
    longer = dataclasses.replace(first, end=at(30))
    drone = Footprint("uav", at(5), at(10), box(23.6, 17.2, 23.61, 17.21), "drone")
    store.coverage.put_footprints([longer, drone])
    store.coverage.put_footprints([longer])  # idempotent
    got = store.coverage.footprints_between(at(-100), at(100))
    assert [(f.camera, f.kind, f.start, f.end) for f in got] == [("gate", "fixed", at(0), at(30)),
                                                                 ("uav", "drone", at(5), at(10))]
    assert got[0].polygon.equals_exact(SQ, 1e-12) and got[0].start.tzinfo is UTC
    assert store.coverage.count_footprints() == 2


@pytest.mark.parametrize(("start", "end", "cameras"), [
    (-10, 0, []),  # ends when the first begins: half-open
    (-10, 0.001, ["gate"]),
    (29.999, 40, ["gate"]),
    (30, 40, []),
    (6, 7, ["gate", "uav"]),
    (100, 200, []),
])
def test_window_query(store: Store, start: float, end: float, cameras: list[str]) -> None:
    store.coverage.put_footprints([Footprint("gate", at(0), at(30), SQ), Footprint("uav", at(5), at(10), SQ, "drone")])
    assert [f.camera for f in store.coverage.footprints_between(at(start), at(end))] == cameras
    assert store.coverage.count_footprints(at(start), at(end)) == len(cameras)


def test_limit(store: Store) -> None:
    store.coverage.put_footprints([Footprint("uav", at(i), at(i + 1), SQ, "drone") for i in range(10)])
    assert [f.start for f in store.coverage.footprints_between(at(0), at(100), limit=3)] == [at(0), at(1), at(2)]


@pytest.mark.parametrize(("row", "message"), [
    (Footprint("", at(0), at(1), SQ), "camera name"),
    (Footprint("gate", at(1), at(0), SQ), "before it starts"),
    (Footprint("gate", datetime(2026, 5, 1), at(1), SQ), "naive"),
    (Footprint("gate", at(0), at(1), SQ, "satellite"), "kind"),
    (Footprint("gate", at(0), at(1), Polygon()), "non-empty polygon"),
    (Footprint("gate", at(0), at(1), LineString([(0, 0), (1, 1)])), "polygon"),
    (Footprint("gate", at(0), at(1), Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])), "valid"),  # a bow tie
    (Footprint("gate", at(0), at(1), box(500_000, 0, 500_100, 100)), "lon/lat"),  # metres, not degrees
])
def test_bad_rows_store_nothing(store: Store, row: Footprint, message: str) -> None:
    good = Footprint("ok", at(0), at(1), SQ)
    with pytest.raises(ValueError, match=message):
        store.coverage.put_footprints([good, row])
    assert store.coverage.count_footprints() == 0


def test_corridor_versions(store: Store) -> None:
    a, b = Corridor("a", box(0, 0, 1, 1)), Corridor("b", box(2, 2, 3, 3))
    store.corridors.save([a, b], author="t", comment="one", at=at(0))
    store.corridors.save([dataclasses.replace(a, geometry=box(0, 0, 2, 2))], author="t", comment="two", at=at(60))
    got = [(c.id, c.version, saved, deleted) for c, saved, deleted in store.corridors.versions()]
    assert got == [("a", 1, at(0), False), ("a", 2, at(60), False), ("b", 1, at(0), False), ("b", 2, at(60), True)]


def test_migration_0006_up_and_down(db_url: str) -> None:
    upgrade(db_url)
    assert current_revision(db_url) == "0010"  # head: the file imports, outbox messages and world tracks came after
    with Store(db_url) as store:
        store.coverage.put_footprints([Footprint("gate", at(0), at(1), SQ)])
        store.corridors.save([Corridor("a", box(0, 0, 1, 1))], author="t", comment="c", at=T0)
    downgrade(db_url, "0005")
    with Store(db_url) as store:
        assert "camera_footprints" not in set(inspect(store.engine).get_table_names())
        with store.engine.connect() as conn:  # the rest untouched (raw: the store reads corridors of 0008 on)
            assert conn.execute(text("SELECT count(*) FROM corridors")).scalar_one() == 1
    upgrade(db_url)
    with Store(db_url) as store:
        assert store.coverage.count_footprints() == 0 and len(store.corridors.current()) == 1
