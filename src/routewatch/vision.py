"""The vision path for fixed cameras: video -> motion gate -> tracker -> ground point -> observations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

from routewatch.app import Summary, count_opened, feed_chunk, new_pipeline, summarize
from routewatch.config.schema import CameraConfig, Settings
from routewatch.geo.homography import Calibration, GroundControlPoint
from routewatch.ingest.video import VideoStats, iter_file
from routewatch.model import Corridor, Observation
from routewatch.store import Store
from routewatch.tracking.iou import Box, IouTracker
from routewatch.tracking.motion import MotionGate
from routewatch.writer import ChangeSink, Writer

CHUNK = 500
TRACK_GRACE = timedelta(seconds=2)


def calibrate(cam: CameraConfig) -> Calibration:
    """The camera's pixel-to-ground calibration; CalibrationError says which GCP is off and by how much."""
    gcps = [GroundControlPoint(u, v, lon, lat) for u, v, lon, lat in cam.gcps]
    return Calibration.from_gcps(gcps, max_error_m=cam.max_error_m)


def observations(path: Path, cam: CameraConfig, calib: Calibration, counts: Counter[str],
                 video: VideoStats | None = None) -> Iterator[Observation]:
    """Tracks of moving objects in a recorded video, placed on the ground (bottom centre of each box)."""
    if cam.start_time is None:
        raise ValueError(f"camera {cam.name}: a recorded video needs `start_time` (its first frame's wall time)")
    gate = MotionGate(width=cam.motion.width, min_area_frac=cam.motion.min_area_frac,
                      warmup_frames=cam.motion.warmup_frames)
    tracker = IouTracker()
    det = cam.detector
    yolo = None
    if det.model is not None:
        from routewatch.tracking.detector import YoloTracker

        yolo = YoloTracker(det.model, classes=det.classes, conf=det.conf, tracker=det.tracker)
    live_until = cam.start_time  # keep detecting this long after the last track was seen
    period = timedelta(seconds=1.0 / cam.fps)
    next_t = cam.start_time
    for frame in iter_file(path, cam.name, cam.start_time, video):
        if frame.time < next_t:
            counts["frames_skipped"] += 1
            continue
        next_t = frame.time + period
        counts["frames_processed"] += 1
        regions = gate.regions(frame.image)
        if yolo is None:
            tracked = tracker.update([Box(r.x1, r.y1, r.x2, r.y2) for r in regions])
        elif det.gate and not regions and frame.time > live_until:
            counts["detector_skipped"] += 1  # a still scene and no live track: no inference (Frigate's saving)
            continue
        else:
            counts["detector_calls"] += 1
            tracked = yolo.update(frame.image)
            if tracked:
                live_until = frame.time + TRACK_GRACE
        for t in tracked:
            ground = calib.to_ground(*t.box.bottom_centre)
            if ground is None:
                counts["not_on_ground"] += 1
                continue
            counts["observations"] += 1
            yield Observation(f"{cam.name}/{t.track_id}", frame.time, ground[0], ground[1],
                              subject_class=t.box.cls, confidence=t.box.conf, source=cam.name)


def analyze_videos(inputs: Sequence[Path], cam: CameraConfig, settings: Settings, store: Store,
                   corridors: Sequence[Corridor], *, sinks: Iterable[ChangeSink] = (),
                   progress: Callable[[int, int], None] | None = None) -> Summary:
    """Run recorded videos of one fixed camera through the vision path and the corridor rules."""
    calib = calibrate(cam)
    summary = Summary(inputs=[str(p) for p in inputs])
    pipeline = new_pipeline(corridors, settings)
    writer = Writer(store, settings.store, [count_opened(summary), *sinks])
    counts: Counter[str] = Counter()
    for n, path in enumerate(inputs):
        video = VideoStats()
        chunk: list[Observation] = []
        for obs in observations(path, cam, calib, counts, video):
            chunk.append(obs)
            if len(chunk) >= CHUNK:
                feed_chunk(pipeline, writer, chunk, summary)
                chunk = []
        feed_chunk(pipeline, writer, chunk, summary)
        counts.update({"frames": video.frames, "corrupt_frames": video.corrupt})
        if progress is not None:
            progress(n + 1, len(inputs))
    writer.add(pipeline.finish(), [])
    writer.flush()
    summary.ingest.update(counts)
    return summarize(summary, pipeline, [])

