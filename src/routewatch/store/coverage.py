"""Camera footprints over time: the `camera_footprints` table and its repository.

One row is what one camera saw on the ground (a lon/lat polygon, WKB) from `start` until `end`
(exclusive): a fixed camera's row covers a continuous stretch of processing and is extended
while frames keep coming; a drone camera's rows are samples (see geo.footprint). Rows are
unique by (camera, start), so writing a row again (a longer `end`) updates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import Polygon
from sqlalchemy import Engine, Index, Integer, LargeBinary, String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from routewatch.geo.footprint import Footprint
from routewatch.store.coltypes import UTCDateTime, to_micros
from routewatch.store.database import Database
from routewatch.store.tables import ENUM, SERIAL, Base

# Bumped when what a footprint polygon means changes (how it is projected, what is clipped).
FOOTPRINT_FORMAT = 1
KINDS = ("fixed", "drone")
MAX_VERTICES = 10_000


class FootprintRow(Base):
    """What one camera saw on the ground from `start` until `end` (exclusive)."""

    __tablename__ = "camera_footprints"
    __table_args__ = (
        Index("ix_camera_footprints_camera_start", "camera", "start", unique=True),
        Index("ix_camera_footprints_start", "start"),
        Index("ix_camera_footprints_end", "end"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(ENUM)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    polygon: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer)


def check_footprint(fp: Footprint) -> None:
    """ValueError saying what is wrong with a footprint row, if anything."""
    to_micros(fp.start)
    to_micros(fp.end)
    if not fp.camera or len(fp.camera) > 64:
        raise ValueError(f"a footprint needs a camera name of 1 to 64 characters, got {fp.camera!r}")
    if fp.kind not in KINDS:
        raise ValueError(f"footprint kind must be one of {KINDS}, got {fp.kind!r}")
    if fp.end < fp.start:
        raise ValueError(f"footprint of {fp.camera} ends ({fp.end.isoformat()}) before it starts "
                         f"({fp.start.isoformat()})")
    poly = fp.polygon
    if not isinstance(poly, Polygon) or poly.is_empty or not poly.is_valid:
        raise ValueError(f"footprint of {fp.camera} at {fp.start.isoformat()} is not a valid, non-empty polygon")
    if len(poly.exterior.coords) > MAX_VERTICES:
        raise ValueError(f"footprint of {fp.camera} has {len(poly.exterior.coords)} vertices; at most {MAX_VERTICES}")
    minx, miny, maxx, maxy = poly.bounds
    if not (-180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0):
        raise ValueError(f"footprint of {fp.camera} is not in lon/lat: bounds {poly.bounds}")


def _insert(engine: Engine) -> Any:
    return postgresql.insert(FootprintRow) if engine.dialect.name == "postgresql" else sqlite.insert(FootprintRow)


class CoverageRepository:
    """Camera footprints over time: what each camera saw on the ground, and when."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put_footprints(self, rows: Sequence[Footprint]) -> None:
        """Store footprint rows in one transaction; a row already stored (same camera and start) is replaced.

        ValueError (nothing stored) if any row is bad.
        """
        for fp in rows:
            check_footprint(fp)
        if not rows:
            return
        latest = {(fp.camera, to_micros(fp.start)): fp for fp in rows}  # one statement per key
        values = [{"camera": fp.camera, "kind": fp.kind, "start": fp.start, "end": fp.end,
                   "polygon": shapely.to_wkb(fp.polygon), "version": FOOTPRINT_FORMAT} for fp in latest.values()]
        with self._db.writer.begin() as conn:
            for value in values:
                stmt = _insert(self._db.engine).values(value)
                again = {k: stmt.excluded[k] for k in ("kind", "end", "polygon", "version")}
                conn.execute(stmt.on_conflict_do_update(index_elements=["camera", "start"], set_=again))

    def footprints_between(self, start: datetime, end: datetime, *, limit: int | None = None,
                           camera: str | None = None) -> list[Footprint]:
        """Footprints overlapping [start, end) (of one camera, or all), by (start, camera); at most `limit`."""
        f = FootprintRow
        query = (select(f.camera, f.kind, f.start, f.end, f.polygon)
                 .where(f.start < end, f.end > start).order_by(f.start, f.camera))
        if camera is not None:
            query = query.where(f.camera == camera)
        if limit is not None:
            query = query.limit(limit)
        with self._db.engine.connect() as conn:
            return [Footprint(r.camera, r.start, r.end, shapely.from_wkb(bytes(r.polygon)), r.kind)
                    for r in conn.execute(query)]

    def footprint_cameras(self) -> list[str]:
        """Cameras with stored footprints, by name."""
        with self._db.engine.connect() as conn:
            return list(conn.scalars(select(FootprintRow.camera).distinct().order_by(FootprintRow.camera)))

    def count_footprints(self, start: datetime | None = None, end: datetime | None = None) -> int:
        """Number of stored footprints (overlapping [start, end) when given)."""
        f = FootprintRow
        query = select(func.count()).select_from(f)
        if end is not None:
            query = query.where(f.start < end)
        if start is not None:
            query = query.where(f.end > start)
        with self._db.engine.connect() as conn:
            return int(conn.scalar(query) or 0)
