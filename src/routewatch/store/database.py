"""The shared database handle every repository holds: engine, read and write sessions, schema upgrades."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from routewatch.store import migrate, spatial, sqliteschema
from routewatch.store.db import WRITE, make_engine
from routewatch.store.errors import StoreError


class Database:
    """One engine and its sessions; `writer` begins write transactions (BEGIN IMMEDIATE on SQLite)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, echo=echo)
        self.writer = self.engine.execution_options(**WRITE)
        self.read = sessionmaker(self.engine, expire_on_commit=False)
        self.write = sessionmaker(self.writer, expire_on_commit=False)
        self._postgis: bool | None = None

    @property
    def dialect(self) -> str:
        """The backend's name: "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write session in one transaction, committed when the block ends without error."""
        with self.write() as session, session.begin():
            yield session

    def upgrade(self, revision: str = "head", *, postgis: bool = True) -> None:
        """Create or migrate the schema to `revision` (idempotent); `postgis`: add geometry where possible."""
        self._postgis = None
        try:
            if revision == "head" and (migrate.at_head(self.engine) or sqliteschema.create_fresh(self.engine)):
                return
            migrate.upgrade(self.engine, revision, postgis=postgis)
        except SQLAlchemyError as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(f"cannot open database {where}: {getattr(exc, 'orig', None) or exc}") from None

    @property
    def has_postgis(self) -> bool:
        """Whether the database has the PostGIS geometry columns (queries then use GiST indexes)."""
        if self._postgis is None:
            with self.engine.connect() as conn:
                self._postgis = spatial.has_geometry(conn)
        return self._postgis

    def enable_postgis(self) -> None:
        """Add the geometry columns to an upgraded database (e.g. once PostGIS is installed on the server).

        Raises StoreError saying why when PostGIS cannot be had; nothing changes then.
        """
        from alembic.operations import Operations
        from alembic.runtime.migration import MigrationContext

        with migrate.migration_transaction(self.engine) as conn:
            reason = spatial.add_geometry(Operations(MigrationContext.configure(conn)))
        self._postgis = None
        if reason is not None:
            raise StoreError(f"PostGIS not enabled: {reason}")

    def close(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()
