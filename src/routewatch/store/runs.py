"""Recorded runs: one row per analyze/run invocation, with its inputs and counters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from routewatch.store.database import Database
from routewatch.store.records import RunRecord
from routewatch.store.tables import RunRow


class RunRepository:
    """Analyze and run invocations, newest first."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        *,
        command: str,
        inputs: Sequence[str],
        counters: Mapping[str, Any],
        started_at: datetime,
        finished_at: datetime | None = None,
    ) -> int:
        """Record one analyze/run invocation; return its id."""
        row = RunRow(
            command=command,
            started_at=started_at,
            finished_at=finished_at,
            inputs=list(inputs),
            counters=dict(counters),
        )
        with self._db.transaction() as session:
            session.add(row)
            session.flush()
            return row.id

    def recent(self, limit: int = 100) -> list[RunRecord]:
        """Recorded runs, newest first."""
        query = select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(limit)
        with self._db.read() as session:
            return [
                RunRecord(
                    id=row.id,
                    command=row.command,
                    started_at=row.started_at,
                    finished_at=row.finished_at,
                    inputs=tuple(row.inputs),
                    counters=dict(row.counters),
                )
                for row in session.scalars(query)
            ]
