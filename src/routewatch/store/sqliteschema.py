"""A new SQLite database gets the migrated schema in one step, from a snapshot of what Alembic built.

Running the migrations on an empty file costs Alembic's import and every revision in turn, a
seventh of a short `analyze`. The snapshot is the DDL SQLite itself recorded after `upgrade()`
(sqlite_master, in creation order) with the head revision it came from; it is used only while
that revision is the shipped head, so a new migration without a new snapshot just falls back to
Alembic. tests/adapters/test_store_sqliteschema.py keeps the snapshot equal to the migrations'
schema. Write it again after adding a migration:

    python -c "from routewatch.store.sqliteschema import write_snapshot; write_snapshot()"
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from sqlalchemy import Connection, Engine, insert

from routewatch.store import migrate
from routewatch.store.db import make_engine

SNAPSHOT = migrate.MIGRATIONS / "sqlite_schema.json"
# Our own objects: tables oldest first, then indexes (and anything else) by name. Not all in creation
# order: Alembic's batch mode recreates a rebuilt table's indexes in set order, which varies with
# PYTHONHASHSEED. SQLite's internal tables (sqlite_sequence, ...) make themselves.
_OBJECTS = ("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY type <> 'table', CASE WHEN type = 'table' THEN rowid END, name")
_ANY_TABLE = "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"


def statements(conn: Connection) -> list[str]:
    """The DDL of a SQLite database's own tables (in creation order), then its indexes and triggers (by name)."""
    return [str(sql) for sql in conn.exec_driver_sql(_OBJECTS).scalars()]


def load() -> tuple[str, list[str]] | None:
    """The snapshot's revision and statements, or None when there is none."""
    try:
        data = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return str(data["revision"]), [str(s) for s in data["statements"]]


def create_fresh(engine: Engine) -> bool:
    """Give an empty SQLite database the head schema from the snapshot; False where it does not apply."""
    if engine.dialect.name != "sqlite":
        return False
    snap = load()
    if snap is None or snap[0] != migrate.shipped_head():
        return False
    revision, ddl = snap
    with migrate.migration_transaction(engine) as conn:
        if conn.exec_driver_sql(_ANY_TABLE).scalar_one():
            return False  # not empty: only Alembic may change it
        for sql in ddl:
            conn.exec_driver_sql(sql)
        conn.execute(insert(migrate.VERSION_TABLE).values(version_num=revision))
    return True


def write_snapshot(path: Path = SNAPSHOT) -> None:
    """Migrate a scratch database with Alembic and record its schema as the snapshot."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'schema.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                ddl = statements(conn)
        finally:
            engine.dispose()
    head = migrate.shipped_head()
    path.write_text(json.dumps({"revision": head, "statements": ddl}, indent=1) + "\n", encoding="utf-8")
