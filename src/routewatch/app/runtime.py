"""The composition root: one job's pipeline, writer and sinks, built from the settings for each mode.

Analyzing logs needs only the pipeline and the writer; analyzing one camera's videos adds that camera's
snapshots, recordings and coverage; a live run adds them for every camera, a journal behind the writer,
and the services of routewatch.app.services (telemetry sources, cameras, MQTT, web) started by
routewatch.app.live.LiveRunner.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING

from routewatch.app.summary import Summary, count_opened, summarize
from routewatch.config.cameras import CameraConfig
from routewatch.config.schema import Settings
from routewatch.ingest.mavlink import MavlinkStats
from routewatch.model import Corridor, Observation, TelemetryEvent
from routewatch.pipeline.core import Pipeline
from routewatch.store import Store
from routewatch.store.writer import ChangeSink, Writer

# The camera sinks (OpenCV and all) are imported by the modes that have cameras: analyzing logs loads none.
if TYPE_CHECKING:
    from routewatch.cameras.footprints import CoverageRecorder
    from routewatch.cameras.snapshots import SnapshotTaker
    from routewatch.recording.service import Recordings

log = logging.getLogger(__name__)


class Mode(Enum):
    """What a job runs on: recorded logs, one camera's recorded videos, or the live sources."""

    LOGS = "logs"
    VIDEOS = "videos"
    LIVE = "live"


@dataclass(slots=True)
class Runtime:
    """What one job runs with: its summary, the pipeline, the writer and the sinks behind the writer."""

    summary: Summary
    pipeline: Pipeline
    writer: Writer
    snaps: SnapshotTaker | None = None
    recordings: Recordings | None = None
    coverage: CoverageRecorder | None = None

    def feed(self, chunk: Sequence[TelemetryEvent]) -> None:
        """Run a chunk through the pipeline and buffer its rows; write when enough is buffered."""
        obs = [e for e in chunk if isinstance(e, Observation)]
        self.summary.add_positions(obs)
        changes = self.pipeline.feed_many(chunk)
        self.writer.add(changes, obs + self.pipeline.take_world_positions())
        if self.writer.due:
            self.writer.flush()

    def finish(self) -> None:
        """Close what is still open at the end of the input and write everything buffered."""
        self.writer.add(self.pipeline.finish(), [])
        self.writer.flush()

    def sink_counts(self) -> list[Counter[str]]:
        """The counters of the snapshot, recording and coverage sinks there are, in that order."""
        return [c for c in (self.snaps.counts if self.snaps else None,
                            self.recordings.counts() if self.recordings else None,
                            self.coverage.counts() if self.coverage else None) if c is not None]

    def summarize(self, stats: Iterable[MavlinkStats] = ()) -> Summary:
        """The summary, filled from the pipeline and the given ingest counters."""
        return summarize(self.summary, self.pipeline, stats)


def new_pipeline(corridors: Sequence[Corridor], settings: Settings) -> Pipeline:
    """A pipeline with the engine, alerts and world sections of the settings."""
    return Pipeline(corridors, settings.engine, settings.alerts, settings.world)


def build(settings: Settings, store: Store, corridors: Sequence[Corridor], mode: Mode, *, inputs: Sequence[str],
          sinks: Iterable[ChangeSink] = (), camera: CameraConfig | None = None) -> Runtime:
    """The pipeline, writer and sinks of a job in `mode` (`camera`: the camera whose videos are analyzed)."""
    summary = Summary(inputs=list(inputs))
    pipeline = new_pipeline(corridors, settings)
    if mode is Mode.LOGS:
        return Runtime(summary, pipeline, Writer(store, settings.store, [count_opened(summary), *sinks]))
    from routewatch.cameras.footprints import CoverageRecorder
    from routewatch.cameras.snapshots import SnapshotTaker, camera_evidence
    from routewatch.recording.service import Recordings
    from routewatch.store.journal import Journal

    journal = None
    if mode is Mode.VIDEOS:
        if camera is None:
            raise ValueError("analyzing videos needs their camera")
        snaps = SnapshotTaker(store.snapshots, camera_evidence([camera]))
        # Recorded as fast as the disk allows (wait=True): a batch run loses no frame to a slow disk. The frames
        # come from the inputs, never from the camera's url (a stream-copy recorder must not connect to it).
        recordings = Recordings(settings.recording, [camera.model_copy(update={"url": None})], store, wait=True)
        coverage = CoverageRecorder([camera], store.coverage)
    else:
        # Snapshots are drawn and stored in their own thread: the alert never waits for its evidence. A camera
        # without a url only calibrates pixel detections of an edge detector: no frames, so no snapshots.
        snaps = SnapshotTaker(store.snapshots, camera_evidence(c for c in settings.cameras if c.url), background=True)
        # Segments are written, and retention runs, in threads of their own: detection never waits for the disk.
        recordings = Recordings(settings.recording, settings.cameras, store)
        recordings.start_retention()
        # Where each camera looks, written by a thread of its own (see routewatch.cameras.footprints).
        coverage = CoverageRecorder(settings.cameras, store.coverage)
        journal = Journal(settings.store.journal_dir)
    writer = Writer(store, settings.store, [count_opened(summary), *sinks, snaps], journal)
    return Runtime(summary, pipeline, writer, snaps, recordings, coverage)


def recover(pipeline: Pipeline, store: Store, recover_s: float) -> None:
    """Take up where a previous run stopped (or was killed): stored alerts and recent track history."""
    latest = store.positions.latest_time()
    if latest is None or recover_s <= 0:
        return
    since = latest - timedelta(seconds=recover_s)
    alerts = store.alerts.to_continue(since)
    history = store.positions.since(since)
    n = pipeline.recover(alerts, history)
    log.info("recovered: %d stored fixes replayed (%d alert changes already stored), %d alerts taken up",
             len(history), n, len(alerts))
