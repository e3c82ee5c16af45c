"""Recording camera footprints while cameras are processed, off the caller's thread.

The vision paths hand each processed frame to a camera's footprint recorder: `FixedFootprints`
(the frame's size; the calibration gives the polygon) or `DroneFootprints` (the frame's pose).
A `FootprintSampler` (geo.footprint) turns frames into a few rows; rows go to a
`FootprintWriter`, whose thread writes them to the store at most once a `period_s`, each
(camera, start) row once with its latest end: a fixed camera running for hours costs one row
rewritten now and then. The queue is bounded by the number of distinct rows waiting; beyond it
new rows are dropped and counted (`footprints_dropped`), never blocking the vision thread.

See routewatch.analysis.coverage for the coverage of corridors computed from these rows.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from shapely.geometry.base import BaseGeometry

from routewatch.config.cameras import CameraConfig
from routewatch.geo.camera import Pinhole
from routewatch.geo.footprint import Footprint, FootprintSampler, drone_footprint, fixed_footprint
from routewatch.geo.homography import Calibration
from routewatch.model import CameraPose

log = logging.getLogger(__name__)

MAX_PENDING = 10_000
PERIOD_S = 1.0
RETRY_S = 2.0


class FootprintStore(Protocol):
    """Where footprint rows go (store.coverage)."""

    def put_footprints(self, rows: Sequence[Footprint]) -> None:
        """Store (or rewrite) footprint rows."""


class FootprintWriter:
    """A thread writing footprint rows; the latest version of each (camera, start) row wins.

    `counts`: footprints_written (row writes), footprints_dropped (no room), footprint_errors
    (failed store writes; the rows are kept and tried again, except at `close`).
    """

    def __init__(self, store: FootprintStore, *, max_pending: int = MAX_PENDING, period_s: float = PERIOD_S,
                 retry_s: float = RETRY_S) -> None:
        self.store, self.max_pending, self.period_s, self.retry_s = store, max_pending, period_s, retry_s
        self.counts: Counter[str] = Counter()
        self._pending: dict[tuple[str, datetime], Footprint] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._closing = threading.Event()  # wakes the writer from its pause between writes
        self._thread: threading.Thread | None = None

    def put(self, rows: Sequence[Footprint]) -> None:
        """Queue rows for writing (never blocks on the store)."""
        with self._cond:
            for row in rows:
                key = (row.camera, row.start)
                if key not in self._pending and len(self._pending) >= self.max_pending:
                    self.counts["footprints_dropped"] += 1
                    continue
                self._pending[key] = row
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="coverage-writer", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending, {}
                closing = self._closed
            wait = self.period_s
            try:
                self.store.put_footprints(list(batch.values()))
                with self._cond:
                    self.counts["footprints_written"] += len(batch)
            except Exception as exc:  # the database away: keep the rows (newer versions win), try again
                log.error("camera footprints not stored (%d rows): %s: %s", len(batch), type(exc).__name__, exc)
                with self._cond:
                    self.counts["footprint_errors"] += 1
                    if closing:
                        self.counts["footprints_dropped"] += len(batch)
                        continue
                    for key, row in batch.items():
                        self._pending.setdefault(key, row)
                wait = self.retry_s
            self._closing.wait(wait)  # gather what comes meanwhile into one write

    def close(self) -> None:
        """Write what is waiting and stop the thread (blocks: call off the event loop)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        self._closing.set()
        if thread is not None:
            thread.join()


class FixedFootprints:
    """A fixed camera's footprint rows from the size of each processed frame."""

    def __init__(self, cam: CameraConfig, calib: Calibration, writer: FootprintWriter) -> None:
        cfg = cam.coverage
        self.calib, self.writer, self.max_range_m = calib, writer, cfg.max_range_m
        self.sampler = FootprintSampler(cam.name, "fixed", hold_s=1.0 / cam.fps, max_gap_s=cfg.max_gap_s)
        self._polygons: dict[tuple[int, int], BaseGeometry] = {}

    def frame(self, time: datetime, width: int, height: int) -> None:
        """A frame of `width` x `height` pixels was processed at `time`."""
        poly = self._polygons.get((width, height))
        if poly is None:
            poly = self._polygons[(width, height)] = fixed_footprint(self.calib, width, height, self.max_range_m)
            if poly.is_empty:
                log.warning("camera %s: a %d x %d image shows no ground below the horizon within %g m; "
                            "no coverage is recorded", self.sampler.camera, width, height, self.max_range_m)
        self.writer.put(self.sampler.update(time, poly))

    def close(self) -> None:
        """Hand over the open row (it was already handed over as it grew)."""
        self.writer.put(self.sampler.close())


class DroneFootprints:
    """A drone camera's footprint rows from the pose of each processed frame (sampled, see geo.footprint)."""

    def __init__(self, cam: CameraConfig, writer: FootprintWriter) -> None:
        cfg = cam.coverage
        self.writer, self.max_range_m = writer, cfg.max_range_m
        self.sampler = FootprintSampler(cam.name, "drone", hold_s=1.0 / cam.fps, max_gap_s=cfg.max_gap_s,
                                        sample_s=cfg.sample_s, move_m=cfg.move_m)

    def frame(self, time: datetime, pose: CameraPose | None, camera: Pinhole | None = None,
              ground_alt_m: float | None = None) -> None:
        """A frame processed at `time` seen from `pose` (None: no pose, nothing known to be seen)."""
        poly = None
        if pose is not None and camera is not None and ground_alt_m is not None:
            poly = drone_footprint(pose, camera, ground_alt_m, self.max_range_m)
        self.writer.put(self.sampler.update(time, poly))

    def close(self) -> None:
        """Hand over the open row."""
        self.writer.put(self.sampler.close())


class CoverageRecorder:
    """The footprint recorders of a run's cameras (those with `coverage.enabled`) and their writer."""

    def __init__(self, cameras: Sequence[CameraConfig], store: FootprintStore, *, max_pending: int = MAX_PENDING,
                 period_s: float = PERIOD_S) -> None:
        self.cameras = {c.name: c for c in cameras if c.coverage.enabled}
        self.writer = FootprintWriter(store, max_pending=max_pending, period_s=period_s)
        self._open: list[FixedFootprints | DroneFootprints] = []
        self._lock = threading.Lock()

    def fixed(self, camera: str, calib: Calibration) -> FixedFootprints | None:
        """A recorder for a fixed camera, or None when it records no coverage."""
        cam = self.cameras.get(camera)
        if cam is None or cam.kind != "fixed":
            return None
        rec = FixedFootprints(cam, calib, self.writer)
        with self._lock:
            self._open.append(rec)
        return rec

    def drone(self, camera: str) -> DroneFootprints | None:
        """A recorder for a drone camera, or None when it records no coverage."""
        cam = self.cameras.get(camera)
        if cam is None or cam.kind != "drone":
            return None
        rec = DroneFootprints(cam, self.writer)
        with self._lock:
            self._open.append(rec)
        return rec

    def counts(self) -> Counter[str]:
        """coverage_rows (footprint rows started) and the writer's counts."""
        with self._lock:
            rows = sum(r.sampler.rows for r in self._open)
        out = Counter({k: v for k, v in self.writer.counts.items() if v})
        if rows:
            out["coverage_rows"] = rows
        return out

    def close(self) -> None:
        """Write every camera's last row and stop the writer (blocks: call off the event loop)."""
        with self._lock:
            recs = list(self._open)
        for rec in recs:
            rec.close()
        self.writer.close()
