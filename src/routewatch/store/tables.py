"""Table definitions (SQLAlchemy 2 typed declarative); the schema migrations create.

Rows are kept compact because track history grows without bound: enum values are short
strings, times are 8-byte integers on SQLite, and positions are clustered by their key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from routewatch.store.coltypes import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only aliases the rowid (and so auto-assigns ids) for a column typed exactly INTEGER.
SERIAL = BigInteger().with_variant(Integer(), "sqlite")
ENUM = String(32)


class Base(DeclarativeBase):
    """Declarative base holding the store's metadata."""

    metadata = MetaData(naming_convention=NAMING)


class AlertRow(Base):
    """Latest state of one alert; `id` is the model's deterministic alert id."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_opened_at_id", "opened_at", "id"),
        Index("ix_alerts_corridor_id", "corridor_id"),
        Index("ix_alerts_subject_id", "subject_id"),
        Index("ix_alerts_state", "state"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(ENUM)
    corridor_id: Mapped[str] = mapped_column(String)
    corridor_version: Mapped[int] = mapped_column(Integer)
    subject_id: Mapped[str] = mapped_column(String)
    subject_class: Mapped[str] = mapped_column(String)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lon: Mapped[float] = mapped_column(Double)
    lat: Mapped[float] = mapped_column(Double)
    heading_deg: Mapped[float | None] = mapped_column(Double)
    speed_m_s: Mapped[float | None] = mapped_column(Double)
    progress_m: Mapped[float | None] = mapped_column(Double)
    severity: Mapped[str] = mapped_column(ENUM)
    state: Mapped[str] = mapped_column(ENUM)
    updates: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    # The sensor tracks that saw the (world) subject, e.g. ["cam-a/7", "cam-b/12"]; [] without world tracking.
    sensors: Mapped[list[str]] = mapped_column(JSON, server_default=text("'[]'"))
    # The alert's JPEG evidence (snapshots.id), set by SnapshotRepository.put; alert upserts leave it alone.
    snapshot_id: Mapped[int | None] = mapped_column(SERIAL, deferred=True)  # not loaded with the alert


class AlertEventRow(Base):
    """One lifecycle change of an alert and an outbox entry: unpublished while published_at is NULL."""

    __tablename__ = "alert_events"
    __table_args__ = (
        # A replayed change has the same key, so inserting it again does nothing.
        UniqueConstraint("alert_id", "change", "time", "updates"),
        Index("ix_alert_events_time", "time"),
        # Only the (few) unpublished rows are indexed: the outbox reads them in seq order.
        Index(
            "ix_alert_events_unpublished",
            "seq",
            sqlite_where=text("published_at IS NULL"),
            postgresql_where=text("published_at IS NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(64), ForeignKey("alerts.id", ondelete="CASCADE"))
    change: Mapped[str] = mapped_column(ENUM)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(ENUM)
    updates: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String)
    comment: Mapped[str] = mapped_column(Text)
    # The alert.v1 message of this change (wire.alert_message: the alert as stored right after it),
    # sent as it is by MQTT and SSE. NULL only for events written before revision 0002.
    message: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PositionRow(Base):
    """One accepted fix of a subject (track history); the key makes rewrites idempotent."""

    __tablename__ = "positions"
    __table_args__ = (
        Index("ix_positions_time", "time"),
        # Clustered by (subject_id, time): no separate rowid b-tree, track reads are range scans.
        {"sqlite_with_rowid": False},
    )

    subject_id: Mapped[str] = mapped_column(String, primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    lon: Mapped[float] = mapped_column(Double)
    lat: Mapped[float] = mapped_column(Double)
    alt_m: Mapped[float | None] = mapped_column(Double)
    subject_class: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(ENUM)
    source: Mapped[str] = mapped_column(String)
    speed_m_s: Mapped[float | None] = mapped_column(Double)
    heading_deg: Mapped[float | None] = mapped_column(Double)
    confidence: Mapped[float] = mapped_column(Double)
    accuracy_m: Mapped[float | None] = mapped_column(Double)


class CorridorRow(Base):
    """One version of one corridor; a deleted row is a tombstone keeping the last content."""

    __tablename__ = "corridors"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(ENUM)
    geometry: Mapped[str] = mapped_column(Text)
    width_m: Mapped[float | None] = mapped_column(Double)
    direction: Mapped[str | None] = mapped_column(ENUM)
    classes: Mapped[list[str]] = mapped_column(JSON)
    min_dwell_s: Mapped[float | None] = mapped_column(Double)
    min_progress_m: Mapped[float | None] = mapped_column(Double)
    severity: Mapped[str | None] = mapped_column(ENUM)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str] = mapped_column(String)
    comment: Mapped[str] = mapped_column(Text)
    deleted: Mapped[bool] = mapped_column(Boolean)
    # Subject roles the corridor applies to; [] is the kind's default (see model.Corridor.applies_to).
    roles: Mapped[list[str]] = mapped_column(JSON, server_default=text("'[]'"))
    # Corroboration: sensors that must have seen a subject before an alert opens, and how long to wait.
    min_sensors: Mapped[int | None] = mapped_column(Integer)
    confirm_s: Mapped[float | None] = mapped_column(Double)


class CorridorFileRow(Base):
    """The last import of one corridor file: its content hash and the versions it left in force."""

    __tablename__ = "corridor_file_imports"

    path: Mapped[str] = mapped_column(String, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    versions: Mapped[dict[str, int]] = mapped_column(JSON)


class RunRow(Base):
    """One analyze/run invocation: what it read and what it counted."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_started_at", "started_at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    command: Mapped[str] = mapped_column(String)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inputs: Mapped[list[str]] = mapped_column(JSON)
    counters: Mapped[dict[str, Any]] = mapped_column(JSON)


class DeadLetterRow(Base):
    """An input that could not be used; (topic, received_at, excerpt hash) makes rewrites idempotent."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("topic", "received_at", "excerpt_sha256"),
        Index("ix_dead_letters_received_at", "received_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String)
    reason: Mapped[str] = mapped_column(Text)
    payload_excerpt: Mapped[str] = mapped_column(Text)
    excerpt_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
