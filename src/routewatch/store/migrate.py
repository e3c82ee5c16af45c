"""Run the store's Alembic migrations programmatically (no alembic.ini in the cwd needed)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, column, select, table
from sqlalchemy.exc import SQLAlchemyError

from routewatch.store.db import WRITE, make_engine
from routewatch.store.errors import StoreError

# Alembic is imported where a migration runs: a database already at the head does without it.
if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_REVISION = re.compile(r'^(down_revision|revision)\b[^=\n]*=\s*(?:"([^"]+)"|None)', re.MULTILINE)
VERSION_TABLE = table("alembic_version", column("version_num"))


def alembic_config(url: str = "", *, extra_version_locations: Sequence[str | Path] = ()) -> Config:
    """An Alembic config pointing at the migrations shipped inside this package."""
    from alembic.config import Config

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
    from alembic import command

    cfg = config or alembic_config()
    cfg.attributes["routewatch_postgis"] = postgis
    _run(target, cfg, lambda c: command.upgrade(c, revision))


def downgrade(target: str | Engine, revision: str, *, config: Config | None = None) -> None:
    """Downgrade the database at a URL (or engine) to `revision`, in one transaction."""
    from alembic import command

    _run(target, config, lambda cfg: command.downgrade(cfg, revision))


def current_revision(target: str | Engine) -> str | None:
    """The revision the database is at, or None for an empty (never migrated) database."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(target) if isinstance(target, str) else target
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if isinstance(target, str):
            engine.dispose()


def head_revision(config: Config | None = None) -> str | None:
    """The newest revision shipped with the package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config or alembic_config()).get_current_head()


@cache
def shipped_head() -> str | None:
    """The newest shipped revision, read from the version files; None unless exactly one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for key, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def at_head(engine: Engine) -> bool:
    """Whether the database is at the shipped head already (then upgrading has nothing to do)."""
    head = shipped_head()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            return conn.execute(select(VERSION_TABLE.c.version_num)).scalars().all() == [head]
    except SQLAlchemyError:  # no version table yet: a new database
        return False
