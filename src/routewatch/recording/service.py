"""The recordings of a run: a recorder per recording camera and retention on a timer, both off the event loop."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from routewatch.config.cameras import CameraConfig
from routewatch.config.recording import RecordingConfig
from routewatch.recording.copyrecorder import CopyRecorder
from routewatch.recording.policy import Rule
from routewatch.recording.recorder import CameraRecorder, RecordingStore
from routewatch.recording.retention import AlertSpans, SegmentStore, apply_retention, sweep

log = logging.getLogger(__name__)


class RecordingRows(RecordingStore, SegmentStore, Protocol):
    """The recordings repository as recorders and retention use it (store.recordings)."""


class RecordingsStore(Protocol):
    """What the recordings of a run use: segment rows, and the alerts' spans for retention."""

    @property
    def recordings(self) -> RecordingRows: ...

    @property
    def alerts(self) -> AlertSpans: ...


def recorder_for(cam: CameraConfig, cfg: RecordingConfig, store: RecordingStore, **kw: Any) -> CameraRecorder:
    """The camera's recorder: encoding its processed frames, or copying its source (`recording.mode`).

    ValueError (CopyUnavailable) when mode copy cannot work at all here (no PyAV).
    """
    if cam.recording.mode == "encode":
        return CameraRecorder(cam.name, cam.recording, cfg, store, fps=cam.fps, **kw)
    return CopyRecorder(cam.name, cam.recording, cfg, store, fps=cam.fps, source=cam.url, timeout_s=cam.stale_s,
                        reopen_s=cam.reopen_s, reopen_max_s=cam.reopen_max_s, **kw)


class Recordings:
    """Recorders of the cameras with `recording.enabled`, and retention over every configured camera.

    `counts()` sums the recorders' and retention's counters as recording_<name>.
    """

    def __init__(self, cfg: RecordingConfig, cameras: Sequence[CameraConfig], store: RecordingsStore, *,
                 wait: bool = False, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 **recorder: Any) -> None:
        self.cfg, self.store, self.clock = cfg, store, clock
        self.rules = {c.name: Rule.from_config(c.recording) for c in cameras}
        self.recorders: dict[str, CameraRecorder] = {}
        try:
            for c in cameras:
                if c.recording.enabled:
                    self.recorders[c.name] = recorder_for(c, cfg, store.recordings, wait=wait, clock=clock, **recorder)
        except ValueError:  # copy refused (no PyAV): stop the writer threads already started
            for rec in self.recorders.values():
                rec.close()
            raise
        self.retention: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def for_camera(self, name: str) -> CameraRecorder | None:
        """The camera's recorder, or None when it does not record."""
        return self.recorders.get(name)

    def retention_once(self) -> Counter[str]:
        """Apply retention and the orphan sweep to every configured camera now; returns what this pass did."""
        done: Counter[str] = Counter()
        with self._lock:  # one pass at a time (the timer's and a caller's)
            for camera, rule in self.rules.items():
                rec = self.recorders.get(camera)
                try:
                    done.update(apply_retention(self.store, self.cfg.dir, camera, rule, self.clock()))
                    done.update(sweep(self.store, self.cfg.dir, camera, grace_s=self.cfg.orphan_grace_s,
                                      active=rec.active() if rec is not None else ()))
                except Exception as exc:  # the database or the disk away: try again next time
                    log.error("recordings of camera %s: retention failed: %s: %s", camera, type(exc).__name__, exc)
                    done["retention_errors"] += 1
            self.retention.update(done)
        return done

    def start_retention(self) -> None:
        """Run retention now and every `retention_interval_s` in a thread of its own, until `close`."""
        if self._thread is not None or not self.rules:
            return

        def run() -> None:
            while True:
                self.retention_once()
                if self._stop.wait(self.cfg.retention_interval_s):
                    return

        self._thread = threading.Thread(target=run, name="recording-retention", daemon=True)
        self._thread.start()

    def counts(self) -> Counter[str]:
        """recording_<counter> summed over the cameras, with retention's."""
        out: Counter[str] = Counter()
        for rec in self.recorders.values():
            out.update({f"recording_{k}": v for k, v in rec.counters().items()})
        with self._lock:
            out.update({f"recording_{k}": v for k, v in self.retention.items()})
        return out

    def close(self) -> None:
        """Stop retention; record what is queued and close every open segment (blocks: call off the loop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for rec in self.recorders.values():
            rec.close()
