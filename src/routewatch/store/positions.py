"""The positions aggregate: stored fixes by subject, time and area; streamed for backtests and restarts."""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import BigInteger, Connection, Select, delete, func, select, type_coerce

from routewatch.model import Observation, Role
from routewatch.store import spatial
from routewatch.store.coltypes import from_micros, to_micros
from routewatch.store.convert import row_to_observation
from routewatch.store.database import Database
from routewatch.store.tables import PositionRow

MAX_IN_LIST = 5000  # subjects read with one IN list; more are filtered as rows arrive
# Rows fetched at a time when filtering in Python (a server-side cursor on PostgreSQL).
_FETCH = 2000


class PositionRepository:
    """Stored fixes (written by Batches.write): per subject, by time and area, streamed for backtests and restarts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def of_subject(
        self, subject_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[Observation]:
        """Stored fixes of one subject with time in [since, until), oldest first."""
        query = select(*PositionRow.__table__.columns).where(PositionRow.subject_id == subject_id)
        if since is not None:
            query = query.where(PositionRow.time >= since)
        if until is not None:
            query = query.where(PositionRow.time < until)
        with self._db.engine.connect() as conn:
            return [row_to_observation(row) for row in conn.execute(query.order_by(PositionRow.time))]

    def count(self) -> int:
        """Number of stored positions."""
        with self._db.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(PositionRow)) or 0)

    def prune(self, before: datetime) -> int:
        """Delete positions older than `before` (retention); return how many were deleted."""
        with self._db.writer.begin() as conn:
            result = conn.execute(delete(PositionRow).where(PositionRow.time < before))
            return int(result.rowcount)

    def within(
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
        with self._db.engine.connect() as conn:
            if self._db.has_postgis:
                rows = conn.execute(query.where(spatial.intersects("positions.geom", area)))
                return [row_to_observation(row) for row in rows]
            query = query.where(*spatial.in_bbox(PositionRow.lon, PositionRow.lat, area))
            rows = conn.execution_options(yield_per=_FETCH).execute(query)
            return [row_to_observation(row) for row in spatial.exactly_within(rows, area, _lonlat)]

    def between(
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
        with self._db.engine.connect() as conn:  # built positionally: a sortie list reads 200,000 rows
            return [Observation(sid, at, lon, lat, alt, cls, roles[role], conf, src, spd, hdg, acc)
                    for sid, at, lon, lat, alt, cls, role, conf, src, spd, hdg, acc in conn.execute(query)]

    def latest_time(self) -> datetime | None:
        """The newest stored fix time, if any."""
        with self._db.engine.connect() as conn:
            value: datetime | None = conn.scalar(select(func.max(PositionRow.time)))
            return value

    def since(self, since: datetime) -> list[Observation]:
        """Every stored fix with time >= since, in event-time order (then by subject)."""
        query = (select(*PositionRow.__table__.columns).where(PositionRow.time >= since)
                 .order_by(PositionRow.time, PositionRow.subject_id))
        with self._db.engine.connect() as conn:
            return [row_to_observation(row) for row in conn.execute(query)]

    def count_between(self, since: datetime, until: datetime) -> int:
        """Number of stored fixes with since <= time < until."""
        query = select(func.count()).select_from(PositionRow).where(PositionRow.time >= since,
                                                                     PositionRow.time < until)
        with self._db.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def stream(self, since: datetime, until: datetime, batch: int = 20_000,
                       part: tuple[int, int] | None = None) -> Iterator[list[Observation]]:
        """Stored fixes with since <= time < until in event-time order (then by subject), in batches.

        Streamed: memory holds one batch, whatever the window's size. A backtest reads millions of
        rows, so they are built positionally and, on SQLite, each distinct time is decoded once.
        `part=(k, n)` keeps only the subjects of share k of n (see `subject_share`).
        """
        if part is not None and not 0 <= part[0] < part[1]:
            raise ValueError(f"part must be (k, n) with 0 <= k < n, got {part}")
        if batch <= 0:
            raise ValueError(f"batch must be > 0, got {batch}")
        t = PositionRow
        keep: frozenset[str] | None = None
        micros = self._db.engine.dialect.name == "sqlite"  # the column holds integer microseconds there
        when: Any = type_coerce(t.time, BigInteger) if micros else t.time
        # On SQLite the bounds are bound as plain integers, so the statement needs no bind processing.
        lo, hi = (to_micros(since), to_micros(until)) if micros else (since, until)
        query = (select(t.subject_id, when, t.lon, t.lat, t.alt_m, t.subject_class, t.role, t.confidence,
                        t.source, t.speed_m_s, t.heading_deg, t.accuracy_m)
                 .where(when >= lo, when < hi)
                 .order_by(when, t.subject_id))
        if part is not None:  # only this share's subjects are read at all
            with self._db.engine.connect() as conn:
                present = conn.scalars(select(t.subject_id).where(t.time >= since, t.time < until).distinct())
                subjects = sorted(s for s in present if subject_share(s, part[1]) == part[0])
            if not subjects:
                return
            if len(subjects) <= MAX_IN_LIST:
                query = query.where(t.subject_id.in_(subjects))
            else:  # too many for one IN list (SQLite's bound parameters): filter the rows here
                keep = frozenset(subjects)
        roles = {r.value: r for r in Role}
        times: dict[Any, datetime] = {}
        make = observation_maker()
        with self._db.engine.connect() as conn:
            for rows in _row_batches(conn, query, batch, raw=micros):
                out = []
                for sid, tm, lon, lat, alt, cls, role, conf, src, spd, hdg, acc in rows:
                    if keep is not None and sid not in keep:
                        continue
                    at = times.get(tm)
                    if at is None:
                        if len(times) >= 100_000:
                            times.clear()
                        at = times[tm] = from_micros(tm) if micros else tm
                    out.append(make(sid, at, lon, lat, alt, cls, roles[role], conf, src, spd, hdg, acc))
                yield out


def _row_batches(conn: Connection, query: Select[Any], batch: int, *, raw: bool) -> Iterator[Sequence[Any]]:
    """The query's rows as tuples, `batch` at a time.

    With `raw` (SQLite, where every bound value is a plain int or str) the statement compiled by
    SQLAlchemy runs on the driver's cursor: building SQLAlchemy Row objects costs a backtest as
    much as reading the rows does.
    """
    if not raw:
        yield from conn.execution_options(stream_results=True, yield_per=batch).execute(query).partitions()
        return
    compiled = query.compile(conn, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    args = tuple(params[name] for name in compiled.positiontup or ())
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), args)
        while rows := cursor.fetchmany(batch):
            yield rows
    finally:
        cursor.close()


def observation_maker() -> Callable[..., Observation]:
    """A constructor of `Observation` taking every field positionally, about twice as fast as the class.

    A frozen dataclass sets each field through `object.__setattr__`; this sets the slots directly.
    Backtests build millions of observations from stored rows, which are already valid values.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 5, 1, tzinfo=UTC)
    >>> observation_maker()("a", t, 5.0, 52.0, None, "car", Role.TARGET, 1.0, "s", None, None, None) == \\
    ...     Observation("a", t, 5.0, 52.0, None, "car", Role.TARGET, 1.0, "s")
    True
    """
    setters = tuple(Observation.__dict__[f.name].__set__ for f in dataclasses.fields(Observation))
    if len(setters) != 12:
        raise RuntimeError("Observation's fields changed: update observation_maker and its callers")
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11 = setters
    new = object.__new__

    def make(sid: str, at: datetime, lon: float, lat: float, alt: float | None, cls: str, role: Role,
             conf: float, src: str, spd: float | None, hdg: float | None, acc: float | None) -> Observation:
        o = new(Observation)
        s0(o, sid), s1(o, at), s2(o, lon), s3(o, lat), s4(o, alt), s5(o, cls)
        s6(o, role), s7(o, conf), s8(o, src), s9(o, spd), s10(o, hdg), s11(o, acc)
        return o

    return make


def subject_share(subject_id: str, shares: int) -> int:
    """Which of `shares` a subject belongs to: stable across runs and processes (CRC-32 of its id).

    >>> subject_share("demo/1", 1)
    0
    """
    return zlib.crc32(subject_id.encode()) % shares


def _lonlat(row: Any) -> tuple[float, float]:
    return (row.lon, row.lat)
