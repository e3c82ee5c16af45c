"""The alerts aggregate: stored alerts, their events, acknowledgements and the read-backs of a restart."""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from routewatch.model import ALERT_KINDS, Alert, AlertState, Change, EventKind, Severity
from routewatch.store import spatial, writes
from routewatch.store.coltypes import to_micros
from routewatch.store.convert import row_to_alert
from routewatch.store.database import Database
from routewatch.store.errors import AmbiguousAlertIdError, UnknownAlertError
from routewatch.store.recordings import AlertSpan
from routewatch.store.records import AlertEvent
from routewatch.store.tables import AlertEventRow, AlertRow
from routewatch.wire import alert_message

MIN_ID_PREFIX = 4  # as git: shorter prefixes match too much to be meant
# Rows fetched at a time when filtering in Python (a server-side cursor on PostgreSQL).
_FETCH = 2000


class AlertRepository:
    """Alerts (written by `Batches.write`), their event history and the acknowledgements of people."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def find(
        self,
        *,
        kind: EventKind | None = None,
        corridor_id: str | None = None,
        subject_id: str | None = None,
        state: AlertState | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
        within: BaseGeometry | None = None,
    ) -> list[Alert]:
        """Alerts matching all filters, opened in [since, until), inside `within` (lon/lat), by (opened_at, id)."""
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be >= 0 (got limit={limit}, offset={offset})")
        query = select(AlertRow)
        if kind is not None:
            query = query.where(AlertRow.kind == EventKind(kind).value)
        if corridor_id is not None:
            query = query.where(AlertRow.corridor_id == corridor_id)
        if subject_id is not None:
            query = query.where(AlertRow.subject_id == subject_id)
        if state is not None:
            query = query.where(AlertRow.state == AlertState(state).value)
        if since is not None:
            query = query.where(AlertRow.opened_at >= since)
        if until is not None:
            query = query.where(AlertRow.opened_at < until)
        query = query.order_by(AlertRow.opened_at, AlertRow.id)
        if within is not None:
            return self._within(query, within, limit=limit, offset=offset)
        query = query.limit(limit).offset(offset)
        with self._db.read() as session:
            return [row_to_alert(row) for row in session.scalars(query)]

    def _within(self, query: Select[AlertRow], within: BaseGeometry, *, limit: int, offset: int) -> list[Alert]:
        """Run an (ordered, filtered) alerts query keeping those inside `within`, then page it."""
        area = spatial.area_of(within)
        with Session(self._db.engine) as session:
            if self._db.has_postgis:
                query = query.where(spatial.intersects("alerts.geom", area)).limit(limit).offset(offset)
                return [row_to_alert(row) for row in session.scalars(query)]
            query = query.where(*spatial.in_bbox(AlertRow.lon, AlertRow.lat, area))
            rows = session.scalars(query.execution_options(yield_per=_FETCH))
            inside = spatial.exactly_within(rows, area, _lonlat)
            return [row_to_alert(row) for row in islice(inside, offset, offset + limit)]

    def get(self, alert_id: str) -> Alert | None:
        """The alert with this id, or None."""
        with self._db.read() as session:
            row = session.get(AlertRow, alert_id)
            return row_to_alert(row) if row is not None else None

    def resolve_id(self, prefix: str) -> str:
        """The id of the one stored alert that is `prefix` or starts with it (as git takes short hashes).

        Raises UnknownAlertError when none matches (or the prefix is shorter than MIN_ID_PREFIX),
        AmbiguousAlertIdError naming the candidates when several do.
        """
        with self._db.read() as session:
            if session.get(AlertRow, prefix) is not None:
                return prefix
            if len(prefix) < MIN_ID_PREFIX:
                raise UnknownAlertError(prefix)
            query = select(AlertRow.id).where(AlertRow.id.startswith(prefix, autoescape=True))
            ids = list(session.scalars(query.order_by(AlertRow.id).limit(11)))
        if not ids:
            raise UnknownAlertError(prefix)
        if len(ids) > 1:
            raise AmbiguousAlertIdError(prefix, ids)
        return ids[0]

    def count_by_kind(self) -> dict[str, int]:
        """Number of stored alerts by kind (every known kind present, zero when none)."""
        counts = {kind.value: 0 for kind in ALERT_KINDS}
        with self._db.read() as session:
            for kind, count in session.execute(
                select(AlertRow.kind, func.count()).group_by(AlertRow.kind).order_by(AlertRow.kind)
            ):
                counts[kind] = count
        return counts

    def acknowledge(self, alert_id: str, *, by: str, comment: str, time: datetime) -> Alert:
        """Mark an alert acknowledged by a person and record who, why and when.

        A closed alert stays closed (the acknowledgement is still recorded as an event).
        Raises UnknownAlertError (a KeyError) when no such alert is stored.
        """
        if not by.strip():
            raise ValueError("acknowledge needs the name of who acknowledged (by=...)")
        to_micros(time)
        with self._db.transaction() as session:
            row = session.get(AlertRow, alert_id, with_for_update=True)
            if row is None:
                raise UnknownAlertError(alert_id)
            if row.state != AlertState.CLOSED.value:
                row.state = AlertState.ACKNOWLEDGED.value
            session.flush()
            event = {
                "alert_id": alert_id,
                "change": Change.ACKNOWLEDGED.value,
                "time": time,
                "state": row.state,
                "updates": row.updates,
                "actor": by,
                "comment": comment,
                "message": alert_message(Change.ACKNOWLEDGED, row_to_alert(row)),
            }
            writes.insert_events(session.connection(), [event])
            return row_to_alert(row)

    def events(self, alert_id: str | None = None, *, after: int = 0, limit: int = 1000) -> list[AlertEvent]:
        """Stored alert events with seq > `after` (of one alert, or all), in seq order."""
        e = AlertEventRow
        # Only these columns: not the snapshots, and readable before revision 0002 too.
        query = select(e.seq, e.alert_id, e.change, e.time, e.state, e.updates, e.actor, e.comment)
        query = query.where(e.seq > after)
        if alert_id is not None:
            query = query.where(e.alert_id == alert_id)
        query = query.order_by(e.seq).limit(limit)
        with self._db.engine.connect() as conn:
            return [
                AlertEvent(
                    seq=row.seq,
                    alert_id=row.alert_id,
                    change=Change(row.change),
                    time=row.time,
                    state=AlertState(row.state),
                    updates=row.updates,
                    actor=row.actor,
                    comment=row.comment,
                )
                for row in conn.execute(query)
            ]

    def latest_event_seq(self) -> int:
        """The highest alert event seq stored (0 when none)."""
        with self._db.engine.connect() as conn:
            return int(conn.scalar(select(func.max(AlertEventRow.seq))) or 0)

    def events_with_alerts(self, *, after: int = 0, limit: int = 500) -> list[tuple[AlertEvent, str]]:
        """Alert events with seq > `after` in seq order, each with its alert.v1 message (the alert as of it)."""
        query = select(AlertEventRow).where(AlertEventRow.seq > after).order_by(AlertEventRow.seq).limit(limit)
        with Session(self._db.engine) as session:
            rows = list(session.scalars(query))
            legacy = sorted({r.alert_id for r in rows if r.message is None})
            current = {
                a.id: row_to_alert(a) for a in session.scalars(select(AlertRow).where(AlertRow.id.in_(legacy)))
            } if legacy else {}
        return [
            (
                AlertEvent(
                    r.seq, r.alert_id, Change(r.change), r.time, AlertState(r.state), r.updates, r.actor, r.comment
                ),
                r.message if r.message is not None else alert_message(Change(r.change), current[r.alert_id]),
            )
            for r in rows
        ]

    def to_continue(self, closed_since: datetime) -> list[Alert]:
        """Alerts not closed, and those closed at or after `closed_since` (they may still reopen)."""
        query = select(AlertRow).where(or_(AlertRow.state != AlertState.CLOSED.value,
                                           AlertRow.closed_at >= closed_since))
        with Session(self._db.engine) as session:
            return [row_to_alert(row) for row in session.scalars(query.order_by(AlertRow.opened_at, AlertRow.id))]

    def spans(self, since: datetime, until: datetime) -> list[AlertSpan]:
        """Alerts active at some time in [since, until] (opened before `until`, closed or last seen after `since`)."""
        a = AlertRow
        query = (select(a.id, a.opened_at, a.closed_at, a.last_seen, a.severity, a.subject_id, a.source)
                 .where(a.opened_at <= until, or_(a.closed_at >= since, a.closed_at.is_(None) & (a.last_seen >= since)))
                 .order_by(a.opened_at, a.id))
        with self._db.engine.connect() as conn:
            return [AlertSpan(r.id, r.opened_at, r.closed_at if r.closed_at is not None else r.last_seen,
                              Severity(r.severity), r.subject_id, r.source) for r in conn.execute(query)]


def _lonlat(row: Any) -> tuple[float, float]:
    return (row.lon, row.lat)
