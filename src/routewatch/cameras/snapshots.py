"""Snapshots as alert evidence: when an alert opens on a camera's track, store its frame with the box drawn.

`SnapshotTaker` is a Writer sink (it sees alert changes after they are committed). For each
opened alert whose subject is `<camera>/<track>` of a camera it knows, it takes the cached frame at
(or nearest before) the alert's opening time, draws the box and label, encodes a JPEG and stores
it. The alert never waits for, or depends on, its snapshot: a failure is logged and counted.

With `background=True` (the live runner) only the cache look-up runs in the caller's thread;
drawing, encoding and the store write run in a worker thread of their own, a bounded number
queued (more are dropped and counted).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from routewatch.cameras.framecache import CachedFrame, FrameCache
from routewatch.config.cameras import CameraConfig, EvidenceConfig
from routewatch.model import Alert, AlertChange, Box, Change
from routewatch.recording.evidence import render
from routewatch.store import Snapshot

log = logging.getLogger(__name__)

MAX_PENDING = 32


class SnapshotStore(Protocol):
    """Where snapshots go (store.snapshots)."""

    def put(self, snap: Snapshot) -> int:
        """Store an alert's snapshot (the first one stored for it wins)."""


@dataclass(frozen=True, slots=True)
class CameraEvidence:
    """One camera's frame cache and how its snapshots are encoded."""

    frames: FrameCache
    jpeg_quality: int = 85
    max_bytes: int = 1_000_000

    @classmethod
    def from_config(cls, cfg: EvidenceConfig) -> CameraEvidence:
        """From a camera's `evidence` settings."""
        cache = FrameCache(cfg.cache_frames, timedelta(seconds=cfg.cache_s), int(cfg.cache_mb * 2**20))
        return cls(cache, cfg.jpeg_quality, cfg.max_bytes)


def camera_evidence(cameras: Iterable[CameraConfig]) -> dict[str, CameraEvidence]:
    """Evidence state for every camera with snapshots enabled, by camera name."""
    return {c.name: CameraEvidence.from_config(c.evidence) for c in cameras if c.evidence.enabled}


class SnapshotTaker:
    """A ChangeSink storing a JPEG snapshot for each alert that opens on a known camera's track.

    `counts`: snapshots stored, snapshots_late (of a frame after the opening: the opening frame had
    left the cache), snapshot_missing (no cached frame of the track), snapshot_errors (drawing,
    encoding or storing failed), snapshot_dropped (too many waiting in the background).
    """

    def __init__(self, store: SnapshotStore, cameras: Mapping[str, CameraEvidence], *, background: bool = False,
                 max_pending: int = MAX_PENDING) -> None:
        self.store, self.cameras, self.max_pending = store, dict(cameras), max_pending
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pending = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence") if background else None

    def cache_for(self, camera: str) -> FrameCache | None:
        """The frame cache the camera's vision path fills, or None when it takes no snapshots."""
        ev = self.cameras.get(camera)
        return ev.frames if ev is not None else None

    def __call__(self, changes: Sequence[AlertChange]) -> None:
        for ch in changes:
            if ch.change is not Change.OPENED:
                continue
            try:
                self._take(ch.alert)
            except Exception:  # never let evidence break the writer that called us
                log.exception("snapshot of alert %s", ch.alert.id)
                self._count("snapshot_errors")

    def _take(self, alert: Alert) -> None:
        # A world track's alert names its sensor tracks: the first camera among them with a frame gives it.
        tracks = [(cam, track) for cam, sep, track in (s.partition("/") for s in alert.sensors or (alert.subject_id,))
                  if sep and cam in self.cameras]
        if not tracks:
            return
        for camera, track in tracks:
            ev = self.cameras[camera]
            found = ev.frames.find(track, alert.opened_at)
            if found is not None:
                break
        else:
            log.warning("no cached frame of %s at %s for alert %s: no snapshot",
                        ", ".join(f"{c}/{t}" for c, t in tracks), alert.opened_at.isoformat(), alert.id)
            self._count("snapshot_missing")
            return
        frame, box = found
        if frame.time > alert.opened_at:  # the opening frame had left the cache: a later one of the track
            self._count("snapshots_late")
        if self._pool is None:
            self._store(alert.id, camera, frame, box, ev)
            return
        with self._lock:
            if self._pending >= self.max_pending:
                self.counts["snapshot_dropped"] += 1
                log.warning("snapshot of alert %s dropped: %d already waiting", alert.id, self._pending)
                return
            self._pending += 1
        self._pool.submit(self._store_pending, alert.id, camera, frame, box, ev)

    def _store_pending(self, alert_id: str, camera: str, frame: CachedFrame, box: Box,
                       ev: CameraEvidence) -> None:
        try:
            self._store(alert_id, camera, frame, box, ev)
        finally:
            with self._lock:
                self._pending -= 1

    def _store(self, alert_id: str, camera: str, frame: CachedFrame, box: Box, ev: CameraEvidence) -> None:
        try:
            jpeg, w, h = render(frame.image, box, frame.time, quality=ev.jpeg_quality, max_bytes=ev.max_bytes)
            self.store.put(Snapshot(alert_id, camera, frame.time, w, h, box.clipped(w, h), jpeg))
        except Exception as exc:
            log.error("snapshot of alert %s not stored: %s: %s", alert_id, type(exc).__name__, exc)
            self._count("snapshot_errors")
            return
        self._count("snapshots")

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def close(self) -> None:
        """Wait for background snapshots to be stored (call before closing the store)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
