"""The Store: one database and a repository per aggregate (synchronous; call from a worker thread).

The composition root holds a Store and hands each component the repository it needs; components
declare what they use as a narrow Protocol of their own.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine

from routewatch.config.store import StoreConfig
from routewatch.store.alerts import MIN_ID_PREFIX, AlertRepository
from routewatch.store.batches import Batches
from routewatch.store.corridorrepo import CorridorRepository
from routewatch.store.coverage import CoverageRepository
from routewatch.store.database import Database
from routewatch.store.deadletters import DeadLetterRepository
from routewatch.store.outbox import OutboxRepository
from routewatch.store.positions import PositionRepository
from routewatch.store.recordings import RecordingRepository
from routewatch.store.runs import RunRepository
from routewatch.store.sessions import SessionRepository
from routewatch.store.snapshots import SnapshotRepository
from routewatch.store.users import AuditRepository, UserRepository

__all__ = ["MIN_ID_PREFIX", "Store", "open_store"]


class Store:
    """The repositories of one database: alerts, corridors, positions, outbox, users, recordings, ..."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.db = Database(url, echo=echo)
        self.batches = Batches(self.db)
        self.alerts = AlertRepository(self.db)
        self.positions = PositionRepository(self.db)
        self.outbox = OutboxRepository(self.db)
        self.dead_letters = DeadLetterRepository(self.db)
        self.corridors = CorridorRepository(self.db)
        self.runs = RunRepository(self.db)
        self.users = UserRepository(self.db)
        self.sessions = SessionRepository(self.db)
        self.audit = AuditRepository(self.db)
        self.snapshots = SnapshotRepository(self.db)
        self.recordings = RecordingRepository(self.db)
        self.coverage = CoverageRepository(self.db)

    @classmethod
    def from_config(cls, config: StoreConfig) -> Store:
        """A store for the `store` section of the settings."""
        return cls(config.url)

    @property
    def url(self) -> str:
        """The database URL this store was opened with."""
        return self.db.url

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for migrations and tests that look at tables)."""
        return self.db.engine

    def upgrade(self, revision: str = "head", *, postgis: bool = True) -> None:
        """Create or migrate the schema to `revision` (idempotent); `postgis`: add geometry where possible."""
        self.db.upgrade(revision, postgis=postgis)

    def close(self) -> None:
        """Close all pooled connections."""
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_store(url: str) -> Store:
    """A store with its schema migrated to the latest version."""
    store = Store(url)
    store.upgrade()
    return store
