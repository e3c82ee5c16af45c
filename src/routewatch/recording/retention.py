"""Retention on disk and in the database, kept consistent: rows are deleted before their files.

For each camera: the plan (see `policy`) names segments to delete; their rows are deleted in one
transaction, then their files. A crash between the two leaves files without rows, never rows
without files, and those files are orphans that the sweep removes: any file under the camera's
directory with no row, not being written (`active`), and older than `orphan_grace_s` (a segment
gets its row just after its file is renamed into place, so a young file may be about to get
one). The sweep also deletes rows whose file someone removed by hand, unless none of the camera's
files is there at all (a recordings disk not mounted is not a reason to forget everything).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

from routewatch.recording.policy import Rule, SegmentFacts, Span, plan
from routewatch.store import AlertSpan, RecordedSegment

log = logging.getLogger(__name__)


class SegmentStore(Protocol):
    """The segment rows retention reads and deletes (store.recordings)."""

    def segments(self, camera: str, since: datetime | None = None, until: datetime | None = None, *,
                 blobs: bool = False) -> list[RecordedSegment]:
        """A camera's segments, oldest first."""

    def delete_segments(self, ids: Sequence[int]) -> list[str]:
        """Delete segment rows; the paths of those that were there."""


class AlertSpans(Protocol):
    """When alerts were active (store.alerts): footage around them is kept longer."""

    def spans(self, since: datetime, until: datetime) -> list[AlertSpan]:
        """Alerts active at some time in [since, until]."""


class RetentionStore(Protocol):
    """What retention uses: the segment rows and the alerts' spans."""

    @property
    def recordings(self) -> SegmentStore: ...

    @property
    def alerts(self) -> AlertSpans: ...


def apply_retention(store: RetentionStore, root: Path, camera: str, rule: Rule, now: datetime) -> Counter[str]:
    """Delete a camera's segments past their age or over its budget: rows first, then files. Returns counts."""
    counts: Counter[str] = Counter()
    segs = store.recordings.segments(camera)
    if not segs:
        return counts
    facts = [SegmentFacts(s.id, s.start, s.end, s.created_at, s.size_bytes) for s in segs]
    reach = rule.reach()
    alerts = store.alerts.spans(min(s.start for s in segs) - reach, max(s.end for s in segs) + reach)
    spans = [Span(a.opened_at, a.until, a.severity, a.subject_id.startswith(f"{camera}/") or a.source == camera)
             for a in alerts]
    doomed = plan(facts, spans, rule, now)
    if not doomed:
        return counts
    by_id = {s.id: s for s in segs}
    paths = set(store.recordings.delete_segments([d.id for d in doomed]))  # committed: no row points at them now
    for d in doomed:
        seg = by_id[d.id]
        if seg.path not in paths:  # deleted meanwhile by someone else
            continue
        counts[f"deleted_{d.reason}"] += 1
        counts["bytes_freed"] += seg.size_bytes
        counts["delete_errors"] += not _unlink(root, seg.path)
    return counts


def sweep(store: RetentionStore, root: Path, camera: str, *, grace_s: float, active: Collection[str] = (),
          now_s: float | None = None) -> Counter[str]:
    """Remove orphan files of a camera and rows whose file is gone (see the module doc). Returns counts."""
    counts: Counter[str] = Counter()
    now_s = time.time() if now_s is None else now_s
    cam_dir = root / camera
    rows = store.recordings.segments(camera)
    on_disk: set[str] = set()
    if cam_dir.is_dir():
        for dirpath, _, names in os.walk(cam_dir):
            for name in names:
                full = Path(dirpath, name)
                rel = str(PurePosixPath(*full.relative_to(root).parts))
                on_disk.add(rel)
    known = {s.path for s in rows}
    for rel in sorted(on_disk - known - set(active)):
        try:
            age = now_s - (root / rel).stat().st_mtime
        except FileNotFoundError:
            continue
        if age > grace_s and _unlink(root, rel):
            counts["orphans_removed"] += 1
            log.warning("recordings: removed orphan file %s (no database row)", rel)
    missing = [s for s in rows if s.path not in on_disk]
    if missing and len(missing) == len(rows):
        log.error("recordings of camera %s: none of its %d segment files is in %s (not mounted?); rows kept",
                  camera, len(rows), cam_dir)
        counts["sweep_skipped"] += 1
    elif missing:
        # Look again: a file may have been renamed into place (re-recorded) since the listing.
        gone = [s for s in missing if not (root / s.path).exists()]
        store.recordings.delete_segments([s.id for s in gone])
        counts["missing_files"] += len(gone)
        for s in gone:
            log.warning("recordings: segment %s was missing on disk; its row is deleted", s.path)
    _prune_dirs(cam_dir, now_s - grace_s)
    return counts


def _unlink(root: Path, rel: str) -> bool:
    """Delete a file under root; True when it is gone (also if it already was)."""
    try:
        (root / rel).unlink(missing_ok=True)
    except OSError as exc:
        log.error("recordings: cannot delete %s: %s", rel, exc)
        return False
    return True


def _prune_dirs(cam_dir: Path, before_s: float) -> None:
    """Remove empty day directories last changed before `before_s` (a new one may be about to get its first file)."""
    if not cam_dir.is_dir():
        return
    for sub in sorted(cam_dir.iterdir()):
        with contextlib.suppress(OSError):
            if sub.is_dir() and sub.stat().st_mtime < before_s:
                sub.rmdir()  # only succeeds when empty
