"""What a restarted pipeline reads back: recent track history and the alerts it must continue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from routewatch.model import Alert, AlertState, Observation
from routewatch.store.convert import row_to_alert, row_to_observation
from routewatch.store.tables import AlertRow, PositionRow


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

    def alerts_to_continue(self, closed_since: datetime) -> list[Alert]:
        """Alerts not closed, and those closed at or after `closed_since` (they may still reopen)."""
        query = select(AlertRow).where(or_(AlertRow.state != AlertState.CLOSED.value,
                                           AlertRow.closed_at >= closed_since))
        with Session(self.engine) as session:
            return [row_to_alert(row) for row in session.scalars(query.order_by(AlertRow.opened_at, AlertRow.id))]
