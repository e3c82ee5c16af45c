"""The corridors aggregate: versioned corridor sets, file imports, deletes and their history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from routewatch.model import Corridor
from routewatch.store import corridorfile as corridor_file
from routewatch.store import corridors as corridor_versions
from routewatch.store import notify
from routewatch.store.coltypes import to_micros
from routewatch.store.convert import row_content, row_to_corridor
from routewatch.store.database import Database
from routewatch.store.errors import CorridorConflictError
from routewatch.store.records import CorridorVersion
from routewatch.store.tables import CorridorRow

_T = TypeVar("_T")


class CorridorRepository:
    """Corridor versions: every save adds versions (or tombstones); nothing stored is ever rewritten."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(
        self,
        corridors: Sequence[Corridor],
        *,
        author: str,
        comment: str,
        at: datetime,
        replace: bool = True,
        expect_removed: int | None = None,
    ) -> tuple[Corridor, ...]:
        """Save a corridor set; return it with versions (unchanged content keeps its version).

        Changed or new corridors get the next version of their id; with `replace`, stored ids
        missing from the set get a deleted tombstone version, and with `expect_removed` that
        must be how many, or RemovalNotConfirmedError lists them and nothing is saved.
        The given versions are ignored. On PostgreSQL the changed ids are sent to
        CorridorListeners when the save commits.
        """
        return self._change(lambda session: corridor_versions.save(
            session, corridors, author=author, comment=comment, at=at, replace=replace,
            expect_removed=expect_removed))

    def import_file(
        self, key: str, sha256: str, corridors: Sequence[Corridor], *, author: str, comment: str, at: datetime,
        file_wins: bool = False,
    ) -> corridor_file.FileImport:
        """Import a corridor file (by path `key`) if its content changed since its last import; see corridorfile."""
        return self._change(lambda session: corridor_file.import_file(
            session, key, sha256, corridors, author=author, comment=comment, at=at, file_wins=file_wins))

    def _change(self, change: Callable[[Session], _T]) -> _T:
        """Run a corridor change in one transaction and tell the listeners what changed."""
        try:
            with self._db.transaction() as session:
                result = change(session)
                changed = corridor_versions.changed_ids(session)
                if changed and self._db.dialect == "postgresql":
                    session.execute(notify.notify_statement(changed))
                return result
        except IntegrityError as exc:
            raise CorridorConflictError(
                "another save changed the same corridors at the same time; reload and retry"
            ) from exc

    def delete(self, corridor_id: str, *, author: str, comment: str, at: datetime) -> int | None:
        """Add a deleted tombstone version of one corridor; its version, or None if it is not current."""
        to_micros(at)
        newest = select(func.max(CorridorRow.version)).where(CorridorRow.id == corridor_id).scalar_subquery()
        try:
            with Session(self._db.writer, expire_on_commit=False) as session, session.begin():
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
                if self._db.dialect == "postgresql":
                    session.execute(notify.notify_statement({corridor_id}))
                return version
        except IntegrityError as exc:
            raise CorridorConflictError(
                "another save changed this corridor at the same time; reload and retry"
            ) from exc

    def revision(self) -> int:
        """A number that grows with every saved corridor change (poll it where LISTEN/NOTIFY is missing)."""
        with self._db.engine.connect() as conn:
            # Corridor rows are only ever added (versions and tombstones), so the count is a revision.
            return int(conn.scalar(select(func.count()).select_from(CorridorRow)) or 0)

    def current(self) -> tuple[Corridor, ...]:
        """The newest non-deleted version of every corridor, ordered by id."""
        with self._db.read() as session:
            return corridor_versions.current(session)

    def history(self, corridor_id: str) -> list[CorridorVersion]:
        """All versions of one corridor, oldest first, tombstones included."""
        with self._db.read() as session:
            return corridor_versions.history(session, corridor_id)

    def versions(self) -> list[tuple[Corridor, datetime, bool]]:
        """Every stored corridor version: (corridor, saved at, deleted), by id and version."""
        query = select(CorridorRow).order_by(CorridorRow.id, CorridorRow.version)
        with Session(self._db.engine) as session:
            return [(row_to_corridor(r), r.created_at, bool(r.deleted)) for r in session.scalars(query)]
