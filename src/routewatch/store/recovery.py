"""What a restarted pipeline reads back: recent track history and the alerts it must continue."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Engine, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from routewatch.model import Alert, AlertState, Observation, Role
from routewatch.store.coltypes import from_micros
from routewatch.store.convert import row_to_alert, row_to_observation
from routewatch.store.tables import AlertRow, PositionRow

MAX_IN_LIST = 5000  # subjects read with one IN list; more are filtered as rows arrive


class RecoveryMixin:
    """Read-back queries used when the pipeline restarts."""

    engine: Engine

    def latest_position_time(self) -> datetime | None:
        """The newest stored fix time, if any."""
        with self.engine.connect() as conn:
            value: datetime | None = conn.scalar(select(func.max(PositionRow.time)))
            return value

    def positions_since(self, since: datetime) -> list[Observation]:
        """Every stored fix with time >= since, in event-time order (then by subject)."""
        query = (select(*PositionRow.__table__.columns).where(PositionRow.time >= since)
                 .order_by(PositionRow.time, PositionRow.subject_id))
        with self.engine.connect() as conn:
            return [row_to_observation(row) for row in conn.execute(query)]

    def count_positions_between(self, since: datetime, until: datetime) -> int:
        """Number of stored fixes with since <= time < until."""
        query = select(func.count()).select_from(PositionRow).where(PositionRow.time >= since,
                                                                     PositionRow.time < until)
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def iter_positions(self, since: datetime, until: datetime, batch: int = 20_000,
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
        micros = self.engine.dialect.name == "sqlite"  # the column holds integer microseconds there
        when: Any = type_coerce(t.time, BigInteger) if micros else t.time
        query = (select(t.subject_id, when, t.lon, t.lat, t.alt_m, t.subject_class, t.role, t.confidence,
                        t.source, t.speed_m_s, t.heading_deg, t.accuracy_m)
                 .where(t.time >= since, t.time < until)
                 .order_by(t.time, t.subject_id))
        if part is not None:  # only this share's subjects are read at all
            with self.engine.connect() as conn:
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
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
            for rows in result.partitions():
                out = []
                for sid, tm, lon, lat, alt, cls, role, conf, src, spd, hdg, acc in rows:
                    if keep is not None and sid not in keep:
                        continue
                    at = times.get(tm)
                    if at is None:
                        if len(times) >= 100_000:
                            times.clear()
                        at = times[tm] = from_micros(tm) if micros else tm
                    out.append(Observation(sid, at, lon, lat, alt, cls, roles[role], conf, src, spd, hdg, acc))
                yield out

    def alerts_to_continue(self, closed_since: datetime) -> list[Alert]:
        """Alerts not closed, and those closed at or after `closed_since` (they may still reopen)."""
        query = select(AlertRow).where(or_(AlertRow.state != AlertState.CLOSED.value,
                                           AlertRow.closed_at >= closed_since))
        with Session(self.engine) as session:
            return [row_to_alert(row) for row in session.scalars(query.order_by(AlertRow.opened_at, AlertRow.id))]


def subject_share(subject_id: str, shares: int) -> int:
    """Which of `shares` a subject belongs to: stable across runs and processes (CRC-32 of its id).

    >>> subject_share("demo/1", 1)
    0
    """
    return zlib.crc32(subject_id.encode()) % shares
