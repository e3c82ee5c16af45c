"""Batch analysis of recorded video: one camera's files through vision, the corridor rules and the store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from routewatch.app.runtime import Mode, build
from routewatch.app.summary import Summary
from routewatch.cameras.files import file_vision
from routewatch.cameras.fixed import CHUNK
from routewatch.config.cameras import CameraConfig
from routewatch.config.schema import Settings
from routewatch.ingest.video import VideoStats
from routewatch.model import Corridor, Observation
from routewatch.store import Store
from routewatch.store.writer import ChangeSink


def analyze_videos(inputs: Sequence[Path], cam: CameraConfig, settings: Settings, store: Store,
                   corridors: Sequence[Corridor], *, sinks: Iterable[ChangeSink] = (),
                   progress: Callable[[int, int], None] | None = None) -> Summary:
    """Run recorded videos of one camera (fixed, or drone with pose files) through vision and the corridor rules."""
    vision = file_vision(cam, inputs)  # every pose file read, or the calibration checked, before any work
    rt = build(settings, store, corridors, Mode.VIDEOS, inputs=[str(p) for p in inputs], sinks=sinks, camera=cam)
    assert rt.snaps is not None and rt.recordings is not None and rt.coverage is not None
    cache = rt.snaps.cache_for(cam.name)
    record = rt.recordings.for_camera(cam.name)
    vision = vision.with_coverage(rt.coverage)
    counts: Counter[str] = Counter()
    for n, path in enumerate(inputs):
        video = VideoStats()
        chunk: list[Observation] = []
        found = vision.observations(path, counts, video, cache=cache, record=record)
        for obs in found:
            chunk.append(obs)
            hurry = cache is not None and cache.hurry(chunk[0].time)
            if len(chunk) >= CHUNK or hurry:
                rt.feed(chunk)
                chunk = []
                if hurry:  # commit now, so alerts reach the snapshot sink while their frames are cached
                    rt.writer.flush()
        rt.feed(chunk)
        counts.update({"frames": video.frames, "corrupt_frames": video.corrupt})
        if progress is not None:
            progress(n + 1, len(inputs))
    rt.finish()
    rt.recordings.close()
    rt.coverage.close()
    if record is not None:
        rt.recordings.retention_once()
    for sink_counts in rt.sink_counts():
        counts = counts + sink_counts  # `+` as before: counters that stayed at zero are left out
    rt.summary.ingest.update(counts)
    return rt.summarize()
