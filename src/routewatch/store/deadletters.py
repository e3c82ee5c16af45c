"""Dead letters: inputs refused by ingest, kept for an operator to see (written by Batches.write)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from routewatch.model import DeadLetter
from routewatch.store.coltypes import to_micros
from routewatch.store.convert import row_to_dead_letter
from routewatch.store.database import Database
from routewatch.store.tables import DeadLetterRow


class DeadLetterRepository:
    """Stored dead letters: counted, listed newest first, and pruned by age and count."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def count(self) -> int:
        """Number of stored dead letters."""
        with self._db.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(DeadLetterRow)) or 0)

    def prune(self, *, before: datetime, keep: int) -> int:
        """Delete dead letters received before `before`, then all but the newest `keep`; return how many went."""
        to_micros(before)
        if keep < 0:
            raise ValueError(f"keep must be >= 0 (got {keep})")
        with self._db.writer.begin() as conn:
            gone = int(conn.execute(delete(DeadLetterRow).where(DeadLetterRow.received_at < before)).rowcount)
            # Ids grow with arrival: the `keep`-th newest id is the cut (newest by arrival, not by received_at,
            # so a sender with a wrong clock cannot push out what just came in).
            cut = conn.scalar(select(DeadLetterRow.id).order_by(DeadLetterRow.id.desc()).offset(keep).limit(1))
            if cut is not None:
                gone += int(conn.execute(delete(DeadLetterRow).where(DeadLetterRow.id <= cut)).rowcount)
        return gone

    def recent(self, limit: int = 100) -> list[DeadLetter]:
        """Stored dead letters, newest first (by received_at, then by arrival)."""
        query = (
            select(*DeadLetterRow.__table__.columns)
            .order_by(DeadLetterRow.received_at.desc(), DeadLetterRow.id.desc())
            .limit(limit)
        )
        with self._db.engine.connect() as conn:
            return [row_to_dead_letter(row) for row in conn.execute(query)]
