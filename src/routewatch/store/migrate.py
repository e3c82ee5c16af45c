"""Run the store's Alembic migrations programmatically (no alembic.ini in the cwd needed)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from routewatch.store.db import WRITE, make_engine
from routewatch.store.errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str = "", *, extra_version_locations: Sequence[str | Path] = ()) -> Config:
    """An Alembic config pointing at the migrations shipped inside this package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if extra_version_locations:
        locations = [str(MIGRATIONS / "versions"), *(str(p) for p in extra_version_locations)]
        cfg.set_main_option("version_locations", os.pathsep.join(locations))
    if url:
        # configparser interpolates '%', which URL-encoded passwords contain.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _sqlite_pragma(conn: Connection, statement: str) -> None:
    # Must run outside a transaction (SQLite ignores it inside one), so bypass autobegin.
    conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]


@contextmanager
def migration_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one write transaction, safe for SQLite table rebuilds.

    Alembic's batch mode rebuilds a SQLite table by copy, drop and rename; with foreign keys
    on, dropping `alerts` would cascade-delete every alert event. So foreign keys are off
    while migrating and checked before commit.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            _sqlite_pragma(conn, "PRAGMA foreign_keys=OFF")
        try:
            with conn.execution_options(**WRITE).begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise StoreError(f"migration broke {len(broken)} foreign key(s), e.g. {tuple(broken[0])}")
        finally:
            if sqlite:
                _sqlite_pragma(conn, "PRAGMA foreign_keys=ON")


def _run(target: str | Engine, config: Config | None, action: Callable[[Config], None]) -> None:
    engine = make_engine(target) if isinstance(target, str) else target
    cfg = config or alembic_config()
    try:
        with migration_transaction(engine) as conn:
            cfg.attributes["connection"] = conn
            action(cfg)
    finally:
        cfg.attributes.pop("connection", None)
        if isinstance(target, str):
            engine.dispose()


def upgrade(
    target: str | Engine, revision: str = "head", *, config: Config | None = None, postgis: bool = True
) -> None:
    """Upgrade the database at a URL (or engine) to `revision`, in one transaction.

    With `postgis` (the default), PostgreSQL gets geometry columns where PostGIS can be had.
    """
    cfg = config or alembic_config()
    cfg.attributes["routewatch_postgis"] = postgis
    _run(target, cfg, lambda c: command.upgrade(c, revision))


def downgrade(target: str | Engine, revision: str, *, config: Config | None = None) -> None:
    """Downgrade the database at a URL (or engine) to `revision`, in one transaction."""
    _run(target, config, lambda cfg: command.downgrade(cfg, revision))


def current_revision(target: str | Engine) -> str | None:
    """The revision the database is at, or None for an empty (never migrated) database."""
    engine = make_engine(target) if isinstance(target, str) else target
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if isinstance(target, str):
            engine.dispose()


def head_revision(config: Config | None = None) -> str | None:
    """The newest revision shipped with the package."""
    return ScriptDirectory.from_config(config or alembic_config()).get_current_head()
