"""Alembic environment for the store's migrations.

The store runs migrations programmatically and hands over an open connection in
``config.attributes["connection"]``; the URL path is there for developers running the
``alembic`` command with ``src/routewatch/store/alembic.ini`` (e.g. ``revision --autogenerate``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from routewatch.store.db import make_engine
from routewatch.store.migrate import migration_transaction
from routewatch.store.spatial import include_object
from routewatch.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # The PostGIS extension's tables and our optional geometry columns are not in the models.
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit the SQL of the migrations instead of running them."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=bool(url and url.startswith("sqlite")),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the given connection, or on a new engine for the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url (or pass a connection) to run routewatch migrations")
    engine = make_engine(url)
    try:
        with migration_transaction(engine) as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
