"""Persistence: the only package that imports SQLAlchemy and Alembic.

``Store(url)`` holds one repository per aggregate (``store.alerts``, ``store.corridors``,
``store.positions``, ``store.outbox``, ``store.users``, ``store.recordings``, ``store.coverage``, ...)
over one shared ``Database``; ``upgrade(url)`` migrates a database;
``CorridorListener(url)`` hears corridor changes saved by other processes (PostgreSQL).
"""

from routewatch.store.corridorfile import FileImport
from routewatch.store.errors import (
    AmbiguousAlertIdError,
    CorridorConflictError,
    RemovalNotConfirmedError,
    StoreError,
    UnknownAlertError,
    UnsupportedDatabaseError,
)
from routewatch.store.migrate import current_revision, downgrade, head_revision, upgrade
from routewatch.store.notify import CorridorListener
from routewatch.store.recordings import AlertSpan, RecordedSegment, RecordingEvent
from routewatch.store.records import AlertEvent, CorridorVersion, OutboxEvent, RunRecord
from routewatch.store.repository import Store, open_store
from routewatch.store.snapshots import Snapshot

__all__ = [
    "AlertEvent",
    "AlertSpan",
    "AmbiguousAlertIdError",
    "CorridorConflictError",
    "CorridorListener",
    "CorridorVersion",
    "FileImport",
    "OutboxEvent",
    "RecordedSegment",
    "RecordingEvent",
    "RemovalNotConfirmedError",
    "RunRecord",
    "Snapshot",
    "Store",
    "StoreError",
    "UnknownAlertError",
    "UnsupportedDatabaseError",
    "current_revision",
    "downgrade",
    "head_revision",
    "open_store",
    "upgrade",
]
