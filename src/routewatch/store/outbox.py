"""The outbox: alert events not yet published, each with the alert as of its change."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from routewatch.model import Alert, AlertState, Change
from routewatch.store.coltypes import to_micros
from routewatch.store.convert import row_to_alert
from routewatch.store.database import Database
from routewatch.store.records import OutboxEvent
from routewatch.store.tables import AlertEventRow, AlertRow
from routewatch.wire import alert_message, change_from_message

_BATCH = 5000


class OutboxRepository:
    """The alert outbox: events not yet published, read in order and marked once the broker has them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def pending(self, limit: int = 500) -> list[OutboxEvent]:
        """Alert events not yet published, oldest first (by seq), each with the alert as of that change."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0 (got {limit})")
        query = (
            select(AlertEventRow)
            .where(AlertEventRow.published_at.is_(None))
            .order_by(AlertEventRow.seq)
            .limit(limit)
        )
        with Session(self._db.engine) as session:
            rows = list(session.scalars(query))
            legacy = {row.alert_id for row in rows if row.message is None}
            current = {
                row.id: row_to_alert(row)
                for row in session.scalars(select(AlertRow).where(AlertRow.id.in_(sorted(legacy))))
            }
        events = []
        for row in rows:
            message = row.message if row.message is not None else _legacy_message(row, current)
            events.append(OutboxEvent(
                seq=row.seq,
                change=Change(row.change),
                time=row.time,
                alert=change_from_message(message).alert,
                message=message,
                actor=row.actor,
                comment=row.comment,
            ))
        return events

    def mark_published(self, seqs: Sequence[int], at: datetime) -> int:
        """Record that these events were published (acknowledged by the broker); return how many were pending."""
        to_micros(at)
        marked = 0
        ordered = sorted(set(seqs))
        with self._db.writer.begin() as conn:
            for start in range(0, len(ordered), _BATCH):
                chunk = ordered[start : start + _BATCH]
                result = conn.execute(
                    update(AlertEventRow)
                    .where(AlertEventRow.seq.in_(chunk), AlertEventRow.published_at.is_(None))
                    .values(published_at=at)
                )
                marked += int(result.rowcount)
        return marked

    def count_unpublished(self) -> int:
        """Number of alert events not yet published."""
        query = select(func.count()).select_from(AlertEventRow).where(AlertEventRow.published_at.is_(None))
        with self._db.engine.connect() as conn:
            return int(conn.scalar(query) or 0)


def _legacy_message(row: AlertEventRow, current: dict[str, Alert]) -> str:
    # An event from before the outbox has no message: the best we have is the current alert
    # with the event's own state and update count.
    alert = dataclasses.replace(current[row.alert_id], state=AlertState(row.state), updates=row.updates)
    return alert_message(Change(row.change), alert)
