"""A new SQLite database from the schema snapshot is the database the migrations build, and only then is it used."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from routewatch.store import Store, current_revision, head_revision, migrate, sqliteschema, upgrade
from routewatch.store.db import make_engine
from routewatch.store.spatial import include_object
from routewatch.store.tables import Base


def _url(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


@contextlib.contextmanager
def _engine(url: str) -> Iterator[Engine]:
    e = make_engine(url)
    try:
        yield e
    finally:
        e.dispose()


def _ddl(url: str) -> list[str]:
    with _engine(url) as e, e.connect() as conn:
        return sqliteschema.statements(conn)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with _engine(_url(tmp_path, "new.db")) as e:
        yield e


def test_the_snapshot_is_what_the_migrations_build(tmp_path: Path) -> None:
    url = _url(tmp_path, "alembic.db")
    upgrade(url)
    snap = sqliteschema.load()
    assert snap is not None, "no snapshot: see routewatch/store/sqliteschema.py"
    revision, ddl = snap
    hint = "the migrations changed: write the snapshot again (routewatch/store/sqliteschema.py says how)"
    assert revision == head_revision(), hint
    assert ddl == _ddl(url), hint


# The same schema from objects made in different orders (Alembic's batch mode recreates a rebuilt
# table's indexes in an order that varies with PYTHONHASHSEED): the same statements.
ORDERS = [
    pytest.param(["t1", "ix_b", "ix_a"], id="indexes-late-first"),
    pytest.param(["t1", "ix_a", "ix_b"], id="indexes-in-name-order"),
    pytest.param(["ix_b", "ix_a"], id="indexes-only-then-tables"),
]
_DDL = {"t1": "CREATE TABLE t1 (a INTEGER, b INTEGER)", "ix_a": "CREATE INDEX ix_a ON t1 (a)",
        "ix_b": "CREATE UNIQUE INDEX ix_b ON t1 (b)", "t2": "CREATE TABLE t2 (c INTEGER)"}


@pytest.mark.parametrize("order", ORDERS)
def test_statements_do_not_depend_on_index_creation_order(tmp_path: Path, order: list[str]) -> None:
    with _engine(_url(tmp_path, "order.db")) as e, e.begin() as conn:
        names = order if order[0] == "t1" else ["t1", *order]
        for name in [*names, "t2"]:
            conn.exec_driver_sql(_DDL[name])
        if order[0] != "t1":  # a rebuilt table: dropped and made again after its indexes' turn
            conn.exec_driver_sql("DROP TABLE t1")
            for name in ["t1", *order]:
                conn.exec_driver_sql(_DDL[name])
        got = sqliteschema.statements(conn)
    tables = [_DDL["t2"], _DDL["t1"]] if order[0] != "t1" else [_DDL["t1"], _DDL["t2"]]
    assert got == [*tables, _DDL["ix_a"], _DDL["ix_b"]]  # tables as made, then indexes by name


def test_shipped_head_is_alembics_head() -> None:
    assert migrate.shipped_head() == head_revision()


def test_a_new_database_gets_the_snapshot_and_equals_a_migrated_one(tmp_path: Path, engine: Engine) -> None:
    assert sqliteschema.create_fresh(engine) is True
    url = str(engine.url)
    assert current_revision(url) == head_revision()
    migrated = _url(tmp_path, "alembic.db")
    upgrade(migrated)
    assert _ddl(url) == _ddl(migrated)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []
    assert sqliteschema.create_fresh(engine) is False  # not empty any more: left to Alembic
    assert migrate.at_head(engine) is True


def test_store_upgrade_of_a_new_file_is_usable_and_at_head(tmp_path: Path) -> None:
    url = _url(tmp_path, "store.db")
    with Store(url) as store:
        store.upgrade()
        store.upgrade()  # at head: nothing to do
        assert store.dead_letters.count() == 0
    assert current_revision(url) == head_revision()


def test_a_database_with_tables_of_its_own_is_not_touched(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE theirs (x INTEGER)"))
    assert sqliteschema.create_fresh(engine) is False
    with engine.connect() as conn:
        assert sqliteschema.statements(conn) == ["CREATE TABLE theirs (x INTEGER)"]


def test_a_stale_snapshot_falls_back_to_alembic(tmp_path: Path, engine: Engine,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "stale.json"
    revision, ddl = sqliteschema.load() or ("", [])
    stale.write_text(json.dumps({"revision": "0001", "statements": ddl}), encoding="utf-8")
    monkeypatch.setattr(sqliteschema, "SNAPSHOT", stale)
    assert sqliteschema.create_fresh(engine) is False
    with engine.connect() as conn:
        assert sqliteschema.statements(conn) == []
    with Store(str(engine.url)) as store:  # the migrations build it instead
        store.upgrade()
    assert current_revision(str(engine.url)) == revision == head_revision()


def test_an_older_database_is_migrated_not_skipped(tmp_path: Path) -> None:
    url = _url(tmp_path, "old.db")
    upgrade(url, "0005")
    with _engine(url) as e:
        assert migrate.at_head(e) is False
        assert sqliteschema.create_fresh(e) is False
    with Store(url) as store:
        store.upgrade()
    assert current_revision(url) == head_revision()
    assert _ddl(url) == _ddl_of_head(tmp_path)


def _ddl_of_head(tmp_path: Path) -> list[str]:
    url = _url(tmp_path, "head.db")
    upgrade(url)
    return _ddl(url)


def test_postgres_is_left_to_alembic(postgres_db_url: str) -> None:
    with _engine(postgres_db_url) as e:
        assert sqliteschema.create_fresh(e) is False
        assert migrate.at_head(e) is False
