"""Recorded video: the `recording_segments` and `recording_events` tables, their records and their repository.

A segment row describes one closed segment file (its path relative to the recordings directory),
with the time of every frame and the tracked boxes of every frame packed into two blobs (see
routewatch.recording.frameindex and .boxlog: the store keeps them opaque). A row is written only
after its file is complete and in place, and deleted before its file is (see recording.retention),
so a row never points at a missing file.

A recording event says that recording of a camera stopped (disk full, write error) or resumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Engine, Index, Integer, LargeBinary, String, Text, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from routewatch.model import Severity
from routewatch.store.coltypes import UTCDateTime, to_micros
from routewatch.store.database import Database
from routewatch.store.tables import ENUM, SERIAL, Base

EVENT_KINDS = ("stopped", "resumed")
_IDS_PER_QUERY = 500


class RecordingSegmentRow(Base):
    """One closed segment file of one camera: where it is, what it spans, and its frame times and boxes."""

    __tablename__ = "recording_segments"
    __table_args__ = (
        Index("ix_recording_segments_camera_start", "camera", "start", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(512), unique=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    frames: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    codec: Mapped[str] = mapped_column(ENUM)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    times: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    boxes: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class RecordingEventRow(Base):
    """Recording of a camera stopped or resumed, when (wall time) and why."""

    __tablename__ = "recording_events"
    __table_args__ = (Index("ix_recording_events_time", "time"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(ENUM)
    reason: Mapped[str] = mapped_column(Text)
    free_bytes: Mapped[int | None] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class RecordedSegment:
    """A closed segment: `path` is relative to the recordings directory ('/'-separated).

    `start`/`end` are the event times of its first and last frame; `created_at` is the wall time it
    was closed (retention ages count from it); `times`/`boxes` are the packed frame index and box log.
    `id` is 0 until stored.
    """

    camera: str
    path: str
    start: datetime
    end: datetime
    frames: int
    size_bytes: int
    codec: str
    width: int
    height: int
    created_at: datetime
    times: bytes = b""
    boxes: bytes = b""
    id: int = 0

    def check(self) -> None:
        """ValueError saying what is wrong, if anything."""
        for t in (self.start, self.end, self.created_at):
            to_micros(t)
        if not self.camera or not self.path:
            raise ValueError("a segment needs a camera and a path")
        if self.path.startswith("/") or ".." in self.path.split("/") or "\\" in self.path:
            raise ValueError(f"segment path {self.path!r} must be relative to the recordings directory")
        if self.end < self.start:
            raise ValueError(f"segment ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})")
        if self.frames < 1 or self.size_bytes < 0 or self.width < 1 or self.height < 1:
            raise ValueError(f"segment {self.path}: frames, size and bytes must be positive")


@dataclass(frozen=True, slots=True)
class RecordingEvent:
    """Recording of `camera` `kind` (stopped/resumed) at wall `time`, with the reason and the free space seen."""

    camera: str
    time: datetime
    kind: str
    reason: str
    free_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class AlertSpan:
    """When an alert was active (closed_at, else last seen), its severity, and whose tracks raised it."""

    alert_id: str
    opened_at: datetime
    until: datetime
    severity: Severity
    subject_id: str
    source: str


@dataclass(frozen=True, slots=True)
class RecordingExtent:
    """What is recorded of a camera: its first and last frame time, its segments and their frames."""

    camera: str
    first: datetime
    last: datetime
    segments: int
    frames: int


_SEGMENT_COLUMNS = ("id", "camera", "path", "start", "end", "frames", "size_bytes", "codec", "width", "height",
                    "created_at")


def _insert(engine: Engine, table: Any) -> Any:
    return postgresql.insert(table) if engine.dialect.name == "postgresql" else sqlite.insert(table)


def _segment(row: Any, blobs: bool) -> RecordedSegment:
    return RecordedSegment(row.camera, row.path, row.start, row.end, row.frames, row.size_bytes, row.codec, row.width,
                           row.height, row.created_at, bytes(row.times) if blobs else b"",
                           bytes(row.boxes) if blobs else b"", row.id)


class RecordingRepository:
    """Recorded segments and recording events (stopped/resumed) of each camera."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put_segment(self, seg: RecordedSegment) -> int:
        """Store a closed segment; return its id. Idempotent by (camera, start): a re-recording replaces the row."""
        seg.check()
        values = {"camera": seg.camera, "path": seg.path, "start": seg.start, "end": seg.end, "frames": seg.frames,
                  "size_bytes": seg.size_bytes, "codec": seg.codec, "width": seg.width, "height": seg.height,
                  "created_at": seg.created_at, "times": seg.times, "boxes": seg.boxes}
        s = RecordingSegmentRow
        with self._db.writer.begin() as conn:
            # Another camera's (or time's) row with this path would be a bug upstream: let the unique index refuse it.
            stmt = _insert(self._db.engine, s).values(values)
            again = {k: stmt.excluded[k] for k in values if k not in ("camera", "start")}
            stmt = stmt.on_conflict_do_update(index_elements=["camera", "start"], set_=again)
            conn.execute(stmt)
            sid = conn.scalar(select(s.id).where(s.camera == seg.camera, s.start == seg.start))
            assert sid is not None
            return int(sid)

    def segments(self, camera: str, since: datetime | None = None, until: datetime | None = None, *,
                           blobs: bool = False) -> list[RecordedSegment]:
        """A camera's segments overlapping [since, until] (event time), oldest first; `blobs`: with times and boxes."""
        s = RecordingSegmentRow
        cols = [getattr(s, c) for c in _SEGMENT_COLUMNS] + ([s.times, s.boxes] if blobs else [])
        query = select(*cols).where(s.camera == camera)
        if since is not None:
            query = query.where(s.end >= since)
        if until is not None:
            query = query.where(s.start <= until)
        with self._db.engine.connect() as conn:
            return [_segment(row, blobs) for row in conn.execute(query.order_by(s.start, s.id))]

    def cameras(self) -> list[str]:
        """Cameras with stored segments."""
        with self._db.engine.connect() as conn:
            cam = RecordingSegmentRow.camera
            return list(conn.scalars(select(cam).distinct().order_by(cam)))

    def extents(self, since: datetime | None = None, until: datetime | None = None) -> list[RecordingExtent]:
        """Each recorded camera's extent (of its segments overlapping [since, until] when given), by camera."""
        s = RecordingSegmentRow
        query = select(s.camera, func.min(s.start), func.max(s.end), func.count(), func.sum(s.frames))
        if since is not None:
            query = query.where(s.end >= since)
        if until is not None:
            query = query.where(s.start <= until)
        with self._db.engine.connect() as conn:
            rows = conn.execute(query.group_by(s.camera).order_by(s.camera)).all()
        return [RecordingExtent(r[0], r[1], r[2], int(r[3]), int(r[4] or 0)) for r in rows]

    def spans(self, since: datetime, until: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        """Each camera's segments overlapping [since, until] as (first frame, last frame), oldest first."""
        s = RecordingSegmentRow
        query = (select(s.camera, s.start, s.end).where(s.end >= since, s.start <= until)
                 .order_by(s.camera, s.start, s.id))
        out: dict[str, list[tuple[datetime, datetime]]] = {}
        with self._db.engine.connect() as conn:
            for r in conn.execute(query):
                out.setdefault(r.camera, []).append((r.start, r.end))
        return out

    def paths(self, camera: str | None = None) -> set[str]:
        """Paths of the stored segments (of one camera, or all)."""
        query = select(RecordingSegmentRow.path)
        if camera is not None:
            query = query.where(RecordingSegmentRow.camera == camera)
        with self._db.engine.connect() as conn:
            return set(conn.scalars(query))

    def delete_segments(self, ids: Sequence[int]) -> list[str]:
        """Delete segment rows (one transaction); return the paths of the rows that were there."""
        s = RecordingSegmentRow
        paths: list[str] = []
        wanted = sorted(set(ids))
        with self._db.writer.begin() as conn:
            for start in range(0, len(wanted), _IDS_PER_QUERY):
                chunk = wanted[start : start + _IDS_PER_QUERY]
                paths.extend(conn.scalars(select(s.path).where(s.id.in_(chunk))))
                conn.execute(delete(s).where(s.id.in_(chunk)))
        return paths

    def add_event(self, event: RecordingEvent) -> None:
        """Store a recording event (stopped/resumed)."""
        to_micros(event.time)
        if event.kind not in EVENT_KINDS:
            raise ValueError(f"recording event kind must be one of {EVENT_KINDS}, got {event.kind!r}")
        if not event.camera:
            raise ValueError("a recording event needs a camera name")
        values = {"camera": event.camera, "time": event.time, "kind": event.kind, "reason": event.reason,
                  "free_bytes": event.free_bytes}
        with self._db.writer.begin() as conn:
            conn.execute(_insert(self._db.engine, RecordingEventRow).values(values))

    def events(self, camera: str | None = None, since: datetime | None = None) -> list[RecordingEvent]:
        """Recording events (of one camera, or all) at or after `since`, oldest first."""
        e = RecordingEventRow
        query = select(e.camera, e.time, e.kind, e.reason, e.free_bytes)
        if camera is not None:
            query = query.where(e.camera == camera)
        if since is not None:
            query = query.where(e.time >= since)
        with self._db.engine.connect() as conn:
            return [RecordingEvent(r.camera, r.time, r.kind, r.reason, r.free_bytes)
                    for r in conn.execute(query.order_by(e.time, e.id))]
