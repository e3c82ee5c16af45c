"""Versioned corridor sets: a new version only where content changed, tombstones for removals."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from routewatch.model import Corridor
from routewatch.store.coltypes import to_micros
from routewatch.store.convert import corridor_content, row_content, row_to_corridor
from routewatch.store.errors import RemovalNotConfirmedError
from routewatch.store.records import CorridorVersion
from routewatch.store.tables import CorridorRow


def latest_rows(session: Session) -> dict[str, CorridorRow]:
    """The newest stored version of every corridor id (tombstones included), by id."""
    newest = (
        select(CorridorRow.id, func.max(CorridorRow.version).label("version"))
        .group_by(CorridorRow.id)
        .subquery()
    )
    rows = session.scalars(
        select(CorridorRow)
        .join(newest, and_(CorridorRow.id == newest.c.id, CorridorRow.version == newest.c.version))
        .order_by(CorridorRow.id)
    )
    return {row.id: row for row in rows}


def save(
    session: Session,
    corridors: Sequence[Corridor],
    *,
    author: str,
    comment: str,
    at: datetime,
    replace: bool,
    expect_removed: int | None = None,
) -> tuple[Corridor, ...]:
    """Add versions for changed corridors (and tombstones when `replace`); return assigned versions.

    With `expect_removed`, a replace that would remove another number of corridors raises
    RemovalNotConfirmedError listing them, and nothing is saved.
    """
    to_micros(at)  # refuse a naive time before touching anything
    ids = [c.id for c in corridors]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"corridor id(s) {duplicates} appear more than once in the set")
    latest = latest_rows(session)
    audit = {"author": author, "comment": comment, "created_at": at}
    gone = [row for row in latest.values() if row.id not in set(ids) and not row.deleted] if replace else []
    if expect_removed is not None and len(gone) != expect_removed:
        raise RemovalNotConfirmedError([row.id for row in gone], expect_removed)
    saved = [put(session, latest.get(c.id), c, audit) for c in corridors]
    for prev in gone:
        tombstone(session, prev, audit)
    return tuple(saved)


def put(session: Session, prev: CorridorRow | None, corridor: Corridor, audit: dict[str, Any]) -> Corridor:
    """Add the next version of a corridor unless `prev`, its newest row, holds the same content."""
    content = corridor_content(corridor)
    if prev is not None and not prev.deleted and row_content(prev) == content:
        return dataclasses.replace(corridor, version=prev.version)
    version = prev.version + 1 if prev is not None else 1
    session.add(CorridorRow(id=corridor.id, version=version, deleted=False, **content, **audit))
    changed_ids(session).add(corridor.id)
    return dataclasses.replace(corridor, version=version)


def tombstone(session: Session, prev: CorridorRow, audit: dict[str, Any]) -> int:
    """Add a deleted version after `prev`; return its version."""
    # The tombstone repeats the last content so history shows what was removed.
    session.add(CorridorRow(id=prev.id, version=prev.version + 1, deleted=True, **row_content(prev), **audit))
    changed_ids(session).add(prev.id)
    return prev.version + 1


def changed_ids(session: Session) -> set[str]:
    """Ids of the corridors this session added versions of (for the change notification)."""
    ids: set[str] = session.info.setdefault("changed_corridors", set())
    return ids


def current(session: Session) -> tuple[Corridor, ...]:
    """The newest version of every corridor that is not deleted, ordered by id."""
    return tuple(row_to_corridor(row) for row in latest_rows(session).values() if not row.deleted)


def history(session: Session, corridor_id: str) -> list[CorridorVersion]:
    """Every stored version of one corridor, oldest first (empty for an unknown id)."""
    rows = session.scalars(
        select(CorridorRow).where(CorridorRow.id == corridor_id).order_by(CorridorRow.version)
    )
    return [
        CorridorVersion(
            corridor=row_to_corridor(row),
            author=row.author,
            comment=row.comment,
            created_at=row.created_at,
            deleted=row.deleted,
        )
        for row in rows
    ]
