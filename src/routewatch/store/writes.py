"""Bulk, idempotent writes with each dialect's own INSERT ... ON CONFLICT (bound parameters only)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, case, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from routewatch.model import Alert, AlertChange, AlertState, DeadLetter, Observation
from routewatch.store.convert import alert_values, dead_letter_values, event_values, position_values, recency
from routewatch.store.tables import AlertEventRow, AlertRow, DeadLetterRow, PositionRow

# Rows per executemany call: big enough to amortise round trips, small enough to bound memory.
BATCH = 5000
_T = TypeVar("_T")


def _insert(conn: Connection, table: Any) -> sqlite.Insert | postgresql.Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def newest_alerts(changes: Sequence[AlertChange]) -> list[Alert]:
    """One alert per id: the most recent state in the batch (a later change wins ties).

    PostgreSQL refuses to update one row twice in a single upsert, so duplicates go here.
    """
    newest: dict[str, Alert] = {}
    for change in changes:
        alert = change.alert
        prev = newest.get(alert.id)
        if prev is None or recency(alert) >= recency(prev):
            newest[alert.id] = alert
    return list(newest.values())


def upsert_alerts(conn: Connection, alerts: Sequence[Alert]) -> None:
    """Insert alerts or update the stored row, unless the stored state is more recent."""
    stmt = _insert(conn, AlertRow)
    new, old = stmt.excluded, AlertRow.__table__.c
    # snapshot_id is set once by put_snapshot, after the alert is stored: an update must not clear it.
    columns = [c.name for c in AlertRow.__table__.columns if c.name not in ("id", "snapshot_id")]
    updates: dict[str, Any] = {name: new[name] for name in columns}
    # An acknowledgement made through the store outlives later updates of the still-open alert.
    updates["state"] = case(
        (and_(old.state == AlertState.ACKNOWLEDGED.value, new.state == AlertState.OPEN.value), old.state),
        else_=new.state,
    )
    # Same order as convert.recency(): replaying an older change leaves a newer row alone.
    is_newer = tuple_(new.last_seen, new.updates, new.closed_at.is_not(None)) >= tuple_(
        old.last_seen, old.updates, old.closed_at.is_not(None)
    )
    upsert = stmt.on_conflict_do_update(index_elements=["id"], set_=updates, where=is_newer)
    for chunk in _chunks(alerts):
        conn.execute(upsert, [alert_values(a) for a in chunk])


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert alert_events rows; one already stored (same alert, change, time, updates) is skipped."""
    stmt = _insert(conn, AlertEventRow).on_conflict_do_nothing(
        index_elements=["alert_id", "change", "time", "updates"]
    )
    for chunk in _chunks(rows):
        conn.execute(stmt, list(chunk))


def acknowledged_ids(conn: Connection, alert_ids: Sequence[str]) -> set[str]:
    """The ids among `alert_ids` whose stored alert is acknowledged."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(alert_ids))):
        query = select(AlertRow.id).where(AlertRow.state == AlertState.ACKNOWLEDGED.value, AlertRow.id.in_(chunk))
        found.update(conn.scalars(query))
    return found


def insert_change_events(conn: Connection, changes: Sequence[AlertChange], acked: set[str]) -> None:
    """Insert one alert_events row per change, idempotently; `acked`: ids acknowledged before the write.

    The snapshot carries over a stored acknowledgement as the upsert does, so what is
    published says "acknowledged" like the stored alert, not the engine's "open".
    """
    rows = []
    for change in changes:
        stored = change.alert
        if stored.id in acked and stored.state is AlertState.OPEN:
            stored = dataclasses.replace(stored, state=AlertState.ACKNOWLEDGED)
        rows.append(event_values(change, stored))
    insert_events(conn, rows)


def insert_positions(conn: Connection, observations: Sequence[Observation]) -> None:
    """Insert positions; a fix already stored for (subject_id, time) is skipped."""
    stmt = _insert(conn, PositionRow).on_conflict_do_nothing(index_elements=["subject_id", "time"])
    for chunk in _chunks(observations):
        conn.execute(stmt, [position_values(o) for o in chunk])


def insert_dead_letters(conn: Connection, letters: Sequence[DeadLetter]) -> None:
    """Insert dead letters; one already stored (same topic, received_at and excerpt) is skipped."""
    stmt = _insert(conn, DeadLetterRow).on_conflict_do_nothing(
        index_elements=["topic", "received_at", "excerpt_sha256"]
    )
    for chunk in _chunks(letters):
        conn.execute(stmt, [dead_letter_values(d) for d in chunk])
