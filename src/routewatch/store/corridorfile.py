"""A settings' corridors.file in the store: imported when its content changed, never over planners' edits.

The database is the source of truth. The file seeds it: each import records the file's hash and
the version of every corridor it left in force. A later import with a new hash changes only the
corridors still at those versions; what was created, changed or deleted in the database since is
kept, unless the caller says the file wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from routewatch.model import Corridor
from routewatch.store.convert import corridor_content, row_content
from routewatch.store.corridors import current, latest_rows, put, tombstone
from routewatch.store.tables import CorridorFileRow, CorridorRow


@dataclass(frozen=True, slots=True)
class FileImport:
    """What importing a corridor file did; `kept` are ids whose database version was kept over the file's."""

    changed: bool
    in_force: tuple[Corridor, ...]
    previous_at: datetime | None = None
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()


def import_file(
    session: Session,
    key: str,
    sha256: str,
    corridors: Sequence[Corridor],
    *,
    author: str,
    comment: str,
    at: datetime,
    file_wins: bool,
) -> FileImport:
    """Import a corridor file's set under `key` (its path) unless its hash is the one last imported."""
    record = session.get(CorridorFileRow, key, with_for_update=True)
    previous_at = record.imported_at if record is not None else None
    if record is not None and record.sha256 == sha256 and not file_wins:
        return FileImport(changed=False, in_force=current(session), previous_at=previous_at)
    owned = dict(record.versions) if record is not None else {}
    latest = latest_rows(session)
    audit = {"author": author, "comment": comment, "created_at": at}

    def file_owns(row: CorridorRow | None) -> bool:
        return file_wins or row is None or owned.get(row.id) == row.version

    versions: dict[str, int] = {}
    added: list[str] = []
    updated: list[str] = []
    kept: list[str] = []
    for corridor in corridors:
        row = latest.get(corridor.id)
        same = row is not None and not row.deleted and row_content(row) == corridor_content(corridor)
        if not (file_owns(row) or same):
            kept.append(corridor.id)
            continue
        versions[corridor.id] = put(session, row, corridor, audit).version
        if row is None:
            added.append(corridor.id)
        elif versions[corridor.id] != row.version:
            updated.append(corridor.id)
    named = {c.id for c in corridors}
    removed = [row.id for row in latest.values() if row.id not in named and not row.deleted and file_owns(row)]
    for cid in removed:
        versions[cid] = tombstone(session, latest[cid], audit)
    for cid, version in owned.items():  # removed by an earlier import: still the file's, should it come back
        row = latest.get(cid)
        if cid not in versions and row is not None and row.deleted and row.version == version:
            versions[cid] = version
    if record is None:
        session.add(CorridorFileRow(path=key, sha256=sha256, imported_at=at, versions=versions))
    else:
        record.sha256, record.imported_at, record.versions = sha256, at, versions
    session.flush()
    return FileImport(changed=True, in_force=current(session), previous_at=previous_at, added=tuple(added),
                      updated=tuple(updated), removed=tuple(removed), kept=tuple(kept))
