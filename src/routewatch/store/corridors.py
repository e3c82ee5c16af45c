"""Versioned corridor sets: a new version only where content changed, tombstones for removals."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from routewatch.model import Corridor
from routewatch.store.coltypes import to_micros
from routewatch.store.convert import corridor_content, row_content, row_to_corridor
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
) -> tuple[Corridor, ...]:
    """Add versions for changed corridors (and tombstones when `replace`); return assigned versions."""
    to_micros(at)  # refuse a naive time before touching anything
    ids = [c.id for c in corridors]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"corridor id(s) {duplicates} appear more than once in the set")
    latest = latest_rows(session)
    audit = {"author": author, "comment": comment, "created_at": at}
    saved: list[Corridor] = []
    for corridor in corridors:
        content = corridor_content(corridor)
        prev = latest.get(corridor.id)
        if prev is not None and not prev.deleted and row_content(prev) == content:
            saved.append(dataclasses.replace(corridor, version=prev.version))
            continue
        version = prev.version + 1 if prev is not None else 1
        session.add(CorridorRow(id=corridor.id, version=version, deleted=False, **content, **audit))
        saved.append(dataclasses.replace(corridor, version=version))
    if replace:
        kept = set(ids)
        for prev in latest.values():
            if prev.id not in kept and not prev.deleted:
                # The tombstone repeats the last content so history shows what was removed.
                session.add(
                    CorridorRow(
                        id=prev.id, version=prev.version + 1, deleted=True, **row_content(prev), **audit
                    )
                )
    return tuple(saved)


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
