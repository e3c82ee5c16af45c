"""Batch analysis of recorded video: one camera's files through vision, the corridor rules and the store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from routewatch.app.analyze import Summary, count_opened, feed_chunk, new_pipeline, summarize
from routewatch.cameras.fixed import CHUNK, calibrate, observations
from routewatch.cameras.footprints import CoverageRecorder
from routewatch.cameras.snapshots import SnapshotTaker, camera_evidence
from routewatch.config.schema import CameraConfig, Settings
from routewatch.ingest.video import VideoStats
from routewatch.model import Corridor, Observation
from routewatch.recording.service import Recordings
from routewatch.store import Store
from routewatch.store.writer import ChangeSink, Writer


def analyze_videos(inputs: Sequence[Path], cam: CameraConfig, settings: Settings, store: Store,
                   corridors: Sequence[Corridor], *, sinks: Iterable[ChangeSink] = (),
                   progress: Callable[[int, int], None] | None = None) -> Summary:
    """Run recorded videos of one camera (fixed, or drone with pose files) through vision and the corridor rules."""
    if cam.kind == "drone":
        from routewatch.cameras.drone import DroneVision

        drone: DroneVision | None = DroneVision.for_videos(inputs, cam)  # every pose file read before any work
    else:
        drone, calib = None, calibrate(cam)
    summary = Summary(inputs=[str(p) for p in inputs])
    pipeline = new_pipeline(corridors, settings)
    snaps = SnapshotTaker(store.snapshots, camera_evidence([cam]))
    cache = snaps.cache_for(cam.name)
    # Recorded as fast as the disk allows (wait=True): a batch run loses no frame to a slow disk. The frames
    # come from `inputs`, never from the camera's url (a stream-copy recorder must not connect to it).
    recordings = Recordings(settings.recording, [cam.model_copy(update={"url": None})], store, wait=True)
    record = recordings.for_camera(cam.name)
    coverage = CoverageRecorder([cam], store.coverage)
    fixed_fp = coverage.fixed(cam.name, calib) if drone is None else None
    drone_fp = coverage.drone(cam.name) if drone is not None else None
    writer = Writer(store, settings.store, [count_opened(summary), *sinks, snaps])
    counts: Counter[str] = Counter()
    for n, path in enumerate(inputs):
        video = VideoStats()
        chunk: list[Observation] = []
        found = (drone.observations(path, counts, video, cache=cache, footprints=drone_fp, record=record)
                 if drone is not None
                 else observations(path, cam, calib, counts, video, cache=cache, record=record, footprints=fixed_fp))
        for obs in found:
            chunk.append(obs)
            hurry = cache is not None and cache.hurry(chunk[0].time)
            if len(chunk) >= CHUNK or hurry:
                feed_chunk(pipeline, writer, chunk, summary)
                chunk = []
                if hurry:  # commit now, so alerts reach the snapshot sink while their frames are cached
                    writer.flush()
        feed_chunk(pipeline, writer, chunk, summary)
        counts.update({"frames": video.frames, "corrupt_frames": video.corrupt})
        if progress is not None:
            progress(n + 1, len(inputs))
    writer.add(pipeline.finish(), [])
    writer.flush()
    recordings.close()
    coverage.close()
    if record is not None:
        recordings.retention_once()
    summary.ingest.update(counts + snaps.counts + recordings.counts() + coverage.counts())
    return summarize(summary, pipeline, [])

