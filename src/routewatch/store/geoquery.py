"""Spatial queries of the Store: PostGIS with GiST indexes where present, else bbox + Shapely."""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session

from routewatch.model import Alert, Observation, Role
from routewatch.store import spatial
from routewatch.store.convert import row_to_alert, row_to_observation
from routewatch.store.errors import StoreError
from routewatch.store.migrate import migration_transaction
from routewatch.store.tables import AlertRow, PositionRow

# Rows fetched at a time when filtering in Python (a server-side cursor on PostgreSQL).
_FETCH = 2000


class SpatialMixin:
    """Store methods for geometry: PostGIS detection and spatial filters."""

    engine: Engine
    _postgis: bool | None = None

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

        with migration_transaction(self.engine) as conn:
            reason = spatial.add_geometry(Operations(MigrationContext.configure(conn)))
        self._postgis = None
        if reason is not None:
            raise StoreError(f"PostGIS not enabled: {reason}")

    def positions_within(
        self, within: BaseGeometry, since: datetime | None = None, until: datetime | None = None
    ) -> list[Observation]:
        """Stored fixes inside a lon/lat (Multi)Polygon (border included), time in [since, until), by time."""
        area = spatial.area_of(within)
        query = select(*PositionRow.__table__.columns)
        if since is not None:
            query = query.where(PositionRow.time >= since)
        if until is not None:
            query = query.where(PositionRow.time < until)
        query = query.order_by(PositionRow.time, PositionRow.subject_id)
        with self.engine.connect() as conn:
            if self.has_postgis:
                rows = conn.execute(query.where(spatial.intersects("positions.geom", area)))
                return [row_to_observation(row) for row in rows]
            query = query.where(*spatial.in_bbox(PositionRow.lon, PositionRow.lat, area))
            rows = conn.execution_options(yield_per=_FETCH).execute(query)
            return [row_to_observation(row) for row in spatial.exactly_within(rows, area, _lonlat)]

    def positions_in(
        self, since: datetime, until: datetime, *, bbox: tuple[float, float, float, float] | None = None,
        subject: str | None = None, role: Role | None = None, limit: int | None = None,
    ) -> list[Observation]:
        """Stored fixes with time in [since, until), by (time, subject); at most `limit` (the oldest).

        Only those of one subject, of one role, or inside a (min_lon, min_lat, max_lon, max_lat) box
        (border included) when given: plain column tests, exact for a box on either database.
        """
        t = PositionRow
        query = (select(t.subject_id, t.time, t.lon, t.lat, t.alt_m, t.subject_class, t.role, t.confidence, t.source,
                        t.speed_m_s, t.heading_deg, t.accuracy_m)
                 .where(t.time >= since, t.time < until))
        if subject is not None:
            query = query.where(t.subject_id == subject)
        if role is not None:
            query = query.where(t.role == role.value)
        if bbox is not None:
            min_lon, min_lat, max_lon, max_lat = bbox
            query = query.where(t.lon >= min_lon, t.lon <= max_lon, t.lat >= min_lat, t.lat <= max_lat)
        query = query.order_by(t.time, t.subject_id)
        if limit is not None:
            query = query.limit(limit)
        roles = {r.value: r for r in Role}
        with self.engine.connect() as conn:  # built positionally: a sortie list reads 200,000 rows
            return [Observation(sid, at, lon, lat, alt, cls, roles[role], conf, src, spd, hdg, acc)
                    for sid, at, lon, lat, alt, cls, role, conf, src, spd, hdg, acc in conn.execute(query)]

    def _alerts_within(
        self, query: Select[AlertRow], within: BaseGeometry, *, limit: int, offset: int
    ) -> list[Alert]:
        """Run an (ordered, filtered) alerts query keeping those inside `within`, then page it."""
        area = spatial.area_of(within)
        with Session(self.engine) as session:
            if self.has_postgis:
                query = query.where(spatial.intersects("alerts.geom", area)).limit(limit).offset(offset)
                return [row_to_alert(row) for row in session.scalars(query)]
            query = query.where(*spatial.in_bbox(AlertRow.lon, AlertRow.lat, area))
            rows = session.scalars(query.execution_options(yield_per=_FETCH))
            inside = spatial.exactly_within(rows, area, _lonlat)
            return [row_to_alert(row) for row in islice(inside, offset, offset + limit)]


def _lonlat(row: Any) -> tuple[float, float]:
    return (row.lon, row.lat)
