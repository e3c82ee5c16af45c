"""Store methods the web layer needs beyond the core repository: delete one corridor, live event reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from routewatch.model import AlertState, Change
from routewatch.store import notify
from routewatch.store.coltypes import to_micros
from routewatch.store.convert import row_content, row_to_alert
from routewatch.store.errors import CorridorConflictError
from routewatch.store.records import AlertEvent
from routewatch.store.tables import AlertEventRow, AlertRow, CorridorRow
from routewatch.wire import alert_message


class WebExtraMixin:
    """Store methods for the web API: single-corridor deletes and alert events with their alerts."""

    engine: Engine
    _writer: Engine

    def delete_corridor(self, corridor_id: str, *, author: str, comment: str, at: datetime) -> int | None:
        """Add a deleted tombstone version of one corridor; its version, or None if it is not current."""
        to_micros(at)
        newest = select(func.max(CorridorRow.version)).where(CorridorRow.id == corridor_id).scalar_subquery()
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                prev = session.scalars(
                    select(CorridorRow).where(CorridorRow.id == corridor_id, CorridorRow.version == newest)
                ).first()
                if prev is None or prev.deleted:
                    return None
                version = prev.version + 1
                session.add(
                    CorridorRow(
                        id=corridor_id, version=version, deleted=True, author=author, comment=comment,
                        created_at=at, **row_content(prev),
                    )
                )
                if self.engine.dialect.name == "postgresql":
                    session.execute(notify.notify_statement({corridor_id}))
                return version
        except IntegrityError as exc:
            raise CorridorConflictError(
                "another save changed this corridor at the same time; reload and retry"
            ) from exc

    def latest_event_seq(self) -> int:
        """The highest alert event seq stored (0 when none)."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.max(AlertEventRow.seq))) or 0)

    def events_with_alerts(self, *, after: int = 0, limit: int = 500) -> list[tuple[AlertEvent, str]]:
        """Alert events with seq > `after` in seq order, each with its alert.v1 message (the alert as of it)."""
        query = select(AlertEventRow).where(AlertEventRow.seq > after).order_by(AlertEventRow.seq).limit(limit)
        with Session(self.engine) as session:
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
