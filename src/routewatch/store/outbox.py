"""Reading the outbox (alert events not yet published) and the dead letters: part of Store."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from routewatch.model import Alert, AlertState, Change, DeadLetter
from routewatch.store.coltypes import to_micros
from routewatch.store.convert import row_to_alert, row_to_dead_letter
from routewatch.store.records import OutboxEvent
from routewatch.store.tables import AlertEventRow, AlertRow, DeadLetterRow
from routewatch.wire import alert_message, change_from_message

_BATCH = 5000


class OutboxMixin:
    """Store methods for the alert outbox and the dead-letter table."""

    engine: Engine
    _writer: Engine

    def outbox_pending(self, limit: int = 500) -> list[OutboxEvent]:
        """Alert events not yet published, oldest first (by seq), each with the alert as of that change."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0 (got {limit})")
        query = (
            select(AlertEventRow)
            .where(AlertEventRow.published_at.is_(None))
            .order_by(AlertEventRow.seq)
            .limit(limit)
        )
        with Session(self.engine) as session:
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
        with self._writer.begin() as conn:
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
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def count_dead_letters(self) -> int:
        """Number of stored dead letters."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(DeadLetterRow)) or 0)

    def prune_dead_letters(self, *, before: datetime, keep: int) -> int:
        """Delete dead letters received before `before`, then all but the newest `keep`; return how many went."""
        to_micros(before)
        if keep < 0:
            raise ValueError(f"keep must be >= 0 (got {keep})")
        with self._writer.begin() as conn:
            gone = int(conn.execute(delete(DeadLetterRow).where(DeadLetterRow.received_at < before)).rowcount)
            # Ids grow with arrival: the `keep`-th newest id is the cut (newest by arrival, not by received_at,
            # so a sender with a wrong clock cannot push out what just came in).
            cut = conn.scalar(select(DeadLetterRow.id).order_by(DeadLetterRow.id.desc()).offset(keep).limit(1))
            if cut is not None:
                gone += int(conn.execute(delete(DeadLetterRow).where(DeadLetterRow.id <= cut)).rowcount)
        return gone

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Stored dead letters, newest first (by received_at, then by arrival)."""
        query = (
            select(*DeadLetterRow.__table__.columns)
            .order_by(DeadLetterRow.received_at.desc(), DeadLetterRow.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [row_to_dead_letter(row) for row in conn.execute(query)]


def _legacy_message(row: AlertEventRow, current: dict[str, Alert]) -> str:
    # An event from before the outbox has no message: the best we have is the current alert
    # with the event's own state and update count.
    alert = dataclasses.replace(current[row.alert_id], state=AlertState(row.state), updates=row.updates)
    return alert_message(Change(row.change), alert)
