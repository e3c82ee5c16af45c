"""The pipeline's unit of work: alert changes (with their outbox rows), positions and dead letters together."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import StatementError

from routewatch.model import AlertChange, DeadLetter, Observation
from routewatch.store import writes
from routewatch.store.database import Database


class Batches:
    """Writes what one pipeline flush produced in ONE transaction: all of it is stored, or none."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def write(
        self,
        changes: Sequence[AlertChange],
        observations: Sequence[Observation],
        dead_letters: Sequence[DeadLetter] = (),
    ) -> None:
        """Store alert changes (outbox entries), positions and dead letters in one transaction, idempotently."""
        if not changes and not observations and not dead_letters:
            return
        try:
            with self._db.writer.begin() as conn:
                acked = writes.acknowledged_ids(conn, [c.alert.id for c in changes]) if changes else set()
                writes.upsert_alerts(conn, writes.newest_alerts(changes))
                writes.insert_change_events(conn, changes, acked)
                writes.insert_positions(conn, observations)
                writes.insert_dead_letters(conn, dead_letters)
        except StatementError as exc:
            if isinstance(exc.orig, ValueError):  # a bad value (e.g. a naive time): nothing written
                raise ValueError(str(exc.orig)) from exc
            raise
