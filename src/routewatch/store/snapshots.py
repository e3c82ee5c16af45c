"""JPEG evidence of alerts raised from video: the `snapshots` table, its record and its repository.

One snapshot per alert and camera (the frame the alert opened on, the camera's box drawn): an
alert on a world track seen by two cameras keeps one from each. The alert row points to its
first stored snapshot through `alerts.snapshot_id`, which alert upserts never touch (see
writes.upsert_alerts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from routewatch.store.coltypes import UTCDateTime, to_micros
from routewatch.store.database import Database
from routewatch.store.errors import UnknownAlertError
from routewatch.store.tables import SERIAL, AlertRow, Base

# A stored snapshot may not be larger than this, whatever the camera's setting (a sanity bound).
MAX_JPEG_BYTES = 20_000_000
JPEG_MAGIC = b"\xff\xd8\xff"
_IDS_PER_QUERY = 500


class SnapshotRow(Base):
    """The JPEG of one alert's opening frame from one camera, with that camera's tracked box drawn."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("alert_id", "camera"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(64), ForeignKey("alerts.id", ondelete="CASCADE"))
    camera: Mapped[str] = mapped_column(String)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    box: Mapped[list[int]] = mapped_column(JSON)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A JPEG kept as evidence of an alert: the frame at `time` from `camera`, `box` (x1, y1, x2, y2) drawn."""

    alert_id: str
    camera: str
    time: datetime
    width: int
    height: int
    box: tuple[int, int, int, int]
    jpeg: bytes

    def check(self) -> None:
        """ValueError saying what is wrong, if anything."""
        to_micros(self.time)
        if not self.alert_id or not self.camera:
            raise ValueError("a snapshot needs an alert id and a camera name")
        if self.width < 1 or self.height < 1:
            raise ValueError(f"snapshot size must be positive, got {self.width}x{self.height}")
        x1, y1, x2, y2 = self.box
        if not (0 <= x1 <= x2 < self.width and 0 <= y1 <= y2 < self.height):
            raise ValueError(f"snapshot box {self.box} is not inside {self.width}x{self.height}")
        if not self.jpeg.startswith(JPEG_MAGIC):
            raise ValueError("snapshot is not a JPEG (no SOI marker)")
        if len(self.jpeg) > MAX_JPEG_BYTES:
            raise ValueError(f"snapshot is {len(self.jpeg)} bytes, over the limit of {MAX_JPEG_BYTES}")


def _insert(engine: Engine) -> Any:
    return postgresql.insert(SnapshotRow) if engine.dialect.name == "postgresql" else sqlite.insert(SnapshotRow)


class SnapshotRepository:
    """JPEG evidence of alerts, one per alert and camera.

    "The first" snapshot of an alert is the first stored (the lowest id); the alert row points at it.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, snap: Snapshot) -> int:
        """Store an alert's snapshot from one camera and return its id; the alert row points at its first.

        Idempotent per (alert, camera): each keeps the first snapshot stored for it (a replay stores
        nothing new). Raises ValueError for a bad snapshot, UnknownAlertError when the alert is not stored.
        """
        snap.check()
        values = {"alert_id": snap.alert_id, "camera": snap.camera, "time": snap.time, "width": snap.width,
                  "height": snap.height, "box": list(snap.box), "jpeg": snap.jpeg}
        s = SnapshotRow
        with self._db.writer.begin() as conn:
            if conn.scalar(select(AlertRow.id).where(AlertRow.id == snap.alert_id)) is None:
                raise UnknownAlertError(snap.alert_id)
            insert = _insert(self._db.engine).values(values)
            conn.execute(insert.on_conflict_do_nothing(index_elements=["alert_id", "camera"]))
            sid = conn.scalar(select(s.id).where(s.alert_id == snap.alert_id, s.camera == snap.camera))
            assert sid is not None
            first = select(func.min(s.id)).where(s.alert_id == snap.alert_id).scalar_subquery()
            conn.execute(update(AlertRow).where(AlertRow.id == snap.alert_id).values(snapshot_id=first))
            return int(sid)

    def get(self, alert_id: str, camera: str | None = None) -> Snapshot | None:
        """The snapshot of an alert from `camera` (None: its first), or None when there is none."""
        s = SnapshotRow
        query = select(s.alert_id, s.camera, s.time, s.width, s.height, s.box, s.jpeg).where(s.alert_id == alert_id)
        if camera is not None:
            query = query.where(s.camera == camera)
        with self._db.engine.connect() as conn:
            row = conn.execute(query.order_by(s.id).limit(1)).first()
        if row is None:
            return None
        x1, y1, x2, y2 = (int(v) for v in row.box)
        return Snapshot(row.alert_id, row.camera, row.time, row.width, row.height, (x1, y1, x2, y2), bytes(row.jpeg))

    def cameras(self, alert_id: str) -> list[str]:
        """The cameras with a snapshot of an alert, first stored first ([] when none)."""
        return self.cameras_of([alert_id]).get(alert_id, [])

    def cameras_of(self, alert_ids: Sequence[str]) -> dict[str, list[str]]:
        """For each id among `alert_ids` with snapshots, its cameras, first stored first (one query per 500 ids)."""
        found: dict[str, list[str]] = {}
        ids = sorted(set(alert_ids))
        s = SnapshotRow
        with self._db.engine.connect() as conn:
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start : start + _IDS_PER_QUERY]
                for alert_id, camera in conn.execute(select(s.alert_id, s.camera).where(s.alert_id.in_(chunk))
                                                     .order_by(s.alert_id, s.id)):
                    found.setdefault(alert_id, []).append(camera)
        return found

    def alert_ids_with(self, alert_ids: Sequence[str]) -> set[str]:
        """The ids among `alert_ids` whose alert row references a snapshot (has at least one)."""
        found: set[str] = set()
        ids = sorted(set(alert_ids))
        with self._db.engine.connect() as conn:
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start : start + _IDS_PER_QUERY]
                query = select(AlertRow.id).where(AlertRow.id.in_(chunk), AlertRow.snapshot_id.is_not(None))
                found.update(conn.scalars(query))
        return found

    def count(self) -> int:
        """Number of stored snapshots."""
        with self._db.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(SnapshotRow)) or 0)
