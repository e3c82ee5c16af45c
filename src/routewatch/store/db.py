"""Engines: SQLite with WAL and enforced foreign keys, or PostgreSQL through psycopg 3."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from routewatch.store.errors import UnsupportedDatabaseError

SUPPORTED = ("sqlite", "postgresql")


# Execution option: a transaction that will write starts with BEGIN IMMEDIATE on SQLite, so
# it takes the write lock up front (waiting busy_timeout) instead of failing when another
# writer commits between its first read and its first write.
WRITE = {"routewatch_write": True}


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling skips BEGIN before DDL, which would make a failed
    # migration half-applied; take over and emit BEGIN ourselves in _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets the web layer read while the pipeline writes; NORMAL is durable across
        # application crashes (only a power cut can drop the last commits) and far faster.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get("routewatch_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for a sqlite:/// or postgresql(+psycopg):// URL, configured for the store."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UnsupportedDatabaseError(f"cannot parse database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise UnsupportedDatabaseError(
            f"unsupported database {backend!r}; use sqlite:///FILE or postgresql+psycopg://..."
        )
    if backend == "postgresql" and parsed.drivername == "postgresql":
        # The psycopg 3 driver is what the project installs; plain postgresql:// means psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, echo=echo, pool_pre_ping=backend == "postgresql")
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine
