"""Geometry columns and spatial filters: PostGIS, plain PostgreSQL and SQLite give the same answers."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from routewatch.model import ALERT_KINDS, AlertChange, AlertState, Change, EventKind, Observation, Role
from routewatch.store import Store, StoreError, upgrade
from tests.adapters.test_store import T0, at, corridor_set, fix, make_alert
from tests.adapters.test_store_outbox import populate_0001
from tests.conftest import skip_or_fail

# Grid points every 0.0025 deg plus seeded random points, around (5.05, 52.05).
GRID = [(5.0 + i * 0.0025, 52.0 + j * 0.0025) for i in range(41) for j in range(41)]
RNG = random.Random(4326)
SCATTER = [(RNG.uniform(4.99, 5.11), RNG.uniform(51.99, 52.11)) for _ in range(1500)]
KINDS = list(ALERT_KINDS)


def alerts_at(points: list[tuple[float, float]]) -> list[AlertChange]:
    changes = []
    for n, (lon, lat) in enumerate(points):
        state = AlertState.CLOSED if n % 7 == 0 else AlertState.OPEN
        alert = make_alert(f"s{n}", f"c{n % 5}", KINDS[n % len(KINDS)], n / 10, lon=lon, lat=lat, state=state,
                           closed_at=at(n / 10 + 5) if state is AlertState.CLOSED else None)
        changes.append(AlertChange(Change.CLOSED if state is AlertState.CLOSED else Change.OPENED, alert))
    return changes


def fixes_at(points: list[tuple[float, float]]) -> list[Observation]:
    return [Observation(f"t{n % 3}", at(n), lon, lat, alt_m=10.0, subject_class="car",
                        role=Role.PATROL if n % 11 == 0 else Role.TARGET) for n, (lon, lat) in enumerate(points)]


# Borders on grid lines (axis-aligned: both sides decide "on the border" exactly), a concave
# shape, a polygon with a hole, a multipolygon, a general polygon with random vertices, an empty area.
AREAS: dict[str, Polygon | MultiPolygon] = {
    "rectangle": box(5.02, 52.02, 5.05, 52.0625),
    "concave": Polygon([(5.0, 52.0), (5.1, 52.0), (5.1, 52.025), (5.025, 52.025), (5.025, 52.1), (5.0, 52.1)]),
    "hole": Polygon(box(5.0, 52.0, 5.1, 52.1).exterior.coords, [box(5.01, 52.01, 5.09, 52.09).exterior.coords]),
    "multi": MultiPolygon([box(5.0, 52.0, 5.01, 52.01), box(5.08, 52.05, 5.1, 52.1)]),
    "general": Polygon([(5.0137, 52.0071), (5.0911, 52.0313), (5.0623, 52.0987), (5.0049, 52.0551)]),
    "nothing": box(6.0, 53.0, 6.1, 53.1),
}
ALERT_QUERIES: list[dict[str, Any]] = [
    {},
    {"limit": 40, "offset": 25},
    {"state": AlertState.CLOSED},
    {"kind": EventKind.ENTER, "since": at(50), "until": at(250)},
]


def expected_alerts(changes: list[AlertChange], area: Any, **filters: Any) -> list[Any]:
    alerts = sorted((c.alert for c in changes), key=lambda a: (a.opened_at, a.id))
    keep = [a for a in alerts if area.intersects(Point(a.lon, a.lat))
            and ("state" not in filters or a.state is filters["state"])
            and ("kind" not in filters or a.kind is filters["kind"])
            and ("since" not in filters or a.opened_at >= filters["since"])
            and ("until" not in filters or a.opened_at < filters["until"])]
    offset = filters.get("offset", 0)
    return keep[offset : offset + filters.get("limit", 1000)]


def answers(store: Store) -> dict[str, Any]:
    """Every spatial query of the tests, by name."""
    got: dict[str, Any] = {}
    for name, area in AREAS.items():
        for n, filters in enumerate(ALERT_QUERIES):
            got[f"alerts {name} {n}"] = store.alerts.find(within=area, **filters)
        got[f"positions {name}"] = store.positions.within(area)
        got[f"positions {name} window"] = store.positions.within(area, since=at(200), until=at(900))
    return got


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'spatial.db'}") as store:
        store.upgrade()
        yield store


def require_postgis(store: Store) -> None:
    """Skip (fail on CI) unless the server can give this database PostGIS."""
    if store.db.has_postgis:
        return
    try:
        store.db.enable_postgis()
    except StoreError as exc:
        skip_or_fail(str(exc))


@pytest.fixture
def postgis_store(postgres_db_url: str) -> Iterator[Store]:
    with Store(postgres_db_url) as store:
        store.upgrade()
        require_postgis(store)
        yield store


def data() -> tuple[list[AlertChange], list[Observation]]:
    return alerts_at(GRID + SCATTER), fixes_at(SCATTER + GRID)


def test_within_fallback_is_exact(sqlite_store: Store) -> None:
    changes, fixes = data()
    sqlite_store.batches.write(changes, fixes)
    assert not sqlite_store.db.has_postgis
    got = answers(sqlite_store)
    for name, area in AREAS.items():  # the same as Shapely point by point, borders included
        for n, filters in enumerate(ALERT_QUERIES):
            assert got[f"alerts {name} {n}"] == expected_alerts(changes, area, **filters)
        assert got[f"positions {name}"] == sorted(
            (f for f in fixes if area.intersects(Point(f.lon, f.lat))), key=lambda f: (f.time, f.subject_id))
    assert len(got["alerts rectangle 0"]) == 13 * 18 + sum(
        1 for lon, lat in SCATTER if 5.02 <= lon <= 5.05 and 52.02 <= lat <= 52.0625)
    assert got["alerts nothing 0"] == [] and len(got["alerts hole 0"]) > 160


@pytest.mark.postgres
@pytest.mark.slow
def test_within_same_answers_on_sqlite_plain_postgres_and_postgis(
    sqlite_store: Store, postgres_db_url: str, subtests: pytest.Subtests
) -> None:
    changes, fixes = data()
    sqlite_store.batches.write(changes, fixes)
    reference = answers(sqlite_store)
    with Store(postgres_db_url) as store:
        store.upgrade(postgis=False)  # plain PostgreSQL first, even where PostGIS could be had
        assert not store.db.has_postgis
        store.batches.write(changes, fixes)
        plain = answers(store)
        require_postgis(store)  # then PostGIS, added to the populated database
        assert store.db.has_postgis
        with_postgis = answers(store)
    for key, want in reference.items():
        with subtests.test(msg=key):
            assert plain[key] == want
            assert with_postgis[key] == want


@pytest.mark.postgres
def test_geometry_columns_are_generated_and_gist_indexed(postgis_store: Store) -> None:
    store = postgis_store
    changes, fixes = alerts_at(GRID[:10]), fixes_at(GRID[:10])
    corridors = corridor_set()
    store.batches.write(changes, fixes)
    store.corridors.save(corridors, author="ana", comment="", at=T0)
    with store.engine.connect() as conn:
        for table in ("alerts", "positions"):
            rows = conn.execute(text(f"SELECT lon, lat, ST_SRID(geom), ST_AsText(geom) FROM {table}")).all()
            assert len(rows) == 10
            assert all(srid == 4326 and shapely.from_wkt(wkt).equals(Point(lon, lat)) for lon, lat, srid, wkt in rows)
        rows = conn.execute(text("SELECT id, ST_SRID(geom), ST_AsText(geom) FROM corridors ORDER BY id")).all()
        assert [(i, srid) for i, srid, _ in rows] == [("c1", 4326), ("c2", 4326), ("c3", 4326)]
        assert all(shapely.from_wkt(wkt).equals(c.geometry) for (_, _, wkt), c in zip(rows, corridors, strict=True))
        types: dict[str, str] = dict(conn.execute(text(
            "SELECT f_table_name, type FROM geometry_columns WHERE f_table_schema = current_schema()")).all())
        assert types == {"alerts": "POINT", "positions": "POINT", "corridors": "GEOMETRY"}
        gist = conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexdef LIKE '%USING gist%'"
            " ORDER BY indexname")).scalars().all()
        assert gist == ["ix_alerts_geom", "ix_corridors_geom", "ix_positions_geom"]
    # Updated alerts move their geometry with them.
    moved = AlertChange(Change.UPDATED, dataclasses.replace(changes[0].alert, lon=7.0, updates=5, last_seen=at(100)))
    store.batches.write([moved], [])
    assert store.alerts.find(within=box(6.9, 51.9, 7.1, 52.1)) == [moved.alert]


def explain(store: Store, run: Any) -> str:
    """The plan (JSON text) of the spatial statement that `run` sends, with the same parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    (statement, parameters), = [s for s in seen if "ST_Intersects" in s[0]]
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
    return plan if isinstance(plan, str) else json.dumps(plan)


@pytest.mark.postgres
@pytest.mark.slow
def test_within_uses_the_gist_index_on_20k_rows(postgis_store: Store) -> None:
    store = postgis_store
    rng = random.Random(7)
    points = [(rng.uniform(4.0, 6.0), rng.uniform(51.0, 53.0)) for _ in range(20_000)]
    store.batches.write(alerts_at(points), fixes_at(points))
    with store.engine.connect() as conn:
        conn.execute(text("ANALYZE alerts"))
        conn.execute(text("ANALYZE positions"))
    area = box(5.0, 52.0, 5.1, 52.1)  # about 0.25 % of the points
    want = sum(1 for lon, lat in points if 5.0 <= lon <= 5.1 and 52.0 <= lat <= 52.1)
    assert len(store.alerts.find(within=area)) == want and len(store.positions.within(area)) == want
    assert '"Index Name": "ix_alerts_geom"' in explain(store, lambda: store.alerts.find(within=area))
    assert '"Index Name": "ix_positions_geom"' in explain(store, lambda: store.positions.within(area))


@pytest.mark.parametrize("bad, message", [
    (LineString([(5, 52), (6, 53)]), "Polygon or MultiPolygon"),
    (Point(5, 52), "Polygon or MultiPolygon"),
    (Polygon([(5, 52), (6, 53), (6, 52), (5, 53)]), "invalid: Self-intersection"),
    (box(52.0, 100.0, 53.0, 101.0), "lon and lat swapped"),
    (Polygon(), "empty"),
])
def test_bad_areas_are_refused_with_the_reason(sqlite_store: Store, bad: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sqlite_store.alerts.find(within=bad)
    with pytest.raises(ValueError, match=message):
        sqlite_store.positions.within(bad)


def test_sqlite_has_no_postgis(sqlite_store: Store) -> None:
    assert not sqlite_store.db.has_postgis
    with pytest.raises(StoreError, match="sqlite has no PostGIS"):
        sqlite_store.db.enable_postgis()


@pytest.mark.postgres
def test_upgrade_of_populated_0001_database_fills_geometry(postgres_db_url: str) -> None:
    upgrade(postgres_db_url, "0001")
    populate_0001(postgres_db_url)
    with Store(postgres_db_url) as store:
        store.upgrade()
        require_postgis(store)
        area = box(5.0, 52.0, 5.01, 52.001)
        legacy = [fix(f"s{i % 5}", i / 4) for i in range(2000)]  # as populate_0001 wrote them
        inside = [f for f in legacy if area.intersects(Point(f.lon, f.lat))]
        assert len(inside) == 401
        assert store.positions.within(area) == sorted(inside, key=lambda f: (f.time, f.subject_id))
        alerts = store.alerts.find(within=box(5.0, 52.0, 5.1055, 52.3))
        assert [a.subject_id for a in alerts] == ["s0", "s1", "s2", "s3", "s4", "s5"]
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM corridors WHERE geom IS NOT NULL")).scalar_one() == 3


@pytest.fixture
def unprivileged_url(postgres_db_url: str) -> Iterator[str]:
    """The test database as a new role that may create tables but not extensions."""
    role = f"routewatch_nopriv_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(postgres_db_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            conn.execute(text(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"'))
        yield make_url(postgres_db_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


@pytest.mark.postgres
def test_without_rights_to_create_postgis_the_upgrade_still_works(
    unprivileged_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(unprivileged_url) as store:
        with caplog.at_level(logging.WARNING, logger="routewatch.store.spatial"):
            store.upgrade()
        assert not store.db.has_postgis
        assert "PostGIS geometry columns not added" in caplog.text
        changes, fixes = data()
        store.batches.write(changes, fixes)
        area = AREAS["concave"]
        assert store.alerts.find(within=area) == expected_alerts(changes, area)
        with pytest.raises(StoreError, match="PostGIS not enabled"):
            store.db.enable_postgis()
        assert store.positions.count() == len(fixes)
