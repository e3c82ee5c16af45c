"""The vision path for fixed cameras: video -> motion gate -> tracker -> ground point -> observations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from routewatch.cameras.footprints import FixedFootprints
from routewatch.cameras.framecache import CachedFrame, FrameCache
from routewatch.cameras.motion import MotionGate, near_motion
from routewatch.config.schema import CameraConfig
from routewatch.geo.homography import Calibration, CalibrationError, GroundControlPoint
from routewatch.ingest.video import Frame, VideoStats, iter_file
from routewatch.model import Box, Observation
from routewatch.recording.recorder import FrameRecorder, follow_source
from routewatch.tracking.iou import IouTracker
from routewatch.tracking.sampler import Sampler

CHUNK = 500
TRACK_GRACE = timedelta(seconds=2)


def calibrate(cam: CameraConfig) -> Calibration:
    """The camera's pixel-to-ground calibration; CalibrationError says which GCP is off and by how much."""
    if cam.kind != "fixed":
        raise CalibrationError(f"camera {cam.name} is a {cam.kind} camera, with no ground control points: "
                               "drone frames are placed from the drone's pose, not a calibration")
    gcps = [GroundControlPoint(u, v, lon, lat) for u, v, lon, lat in cam.gcps]
    return Calibration.from_gcps(gcps, max_error_m=cam.max_error_m)


def observations(path: Path, cam: CameraConfig, calib: Calibration, counts: Counter[str],
                 video: VideoStats | None = None, *, cache: FrameCache | None = None,
                 record: FrameRecorder | None = None, footprints: FixedFootprints | None = None
                 ) -> Iterator[Observation]:
    """Tracks of moving objects in a recorded video, placed on the ground (bottom centre of each box).

    With `cache`, each frame with tracks is cached (for alert snapshots) before its observations are yielded.
    """
    if cam.start_time is None:
        raise ValueError(f"camera {cam.name}: a recorded video needs `start_time` (its first frame's wall time)")
    follow_source(record, path, cam.start_time)  # a stream-copy recorder copies this file's own video
    yield from track_frames(iter_file(path, cam.name, cam.start_time, video), cam, calib, counts, cache=cache,
                            record=record, footprints=footprints)


def track_frames(frames: Iterable[Frame], cam: CameraConfig, calib: Calibration, counts: Counter[str], *,
                 sample: bool = True, cache: FrameCache | None = None,
                 record: FrameRecorder | None = None, footprints: FixedFootprints | None = None
                 ) -> Iterator[Observation]:
    """Per frame: motion gate, detector/tracker, ground point; from any source of timed frames.

    With `record`, every processed frame goes to it with the boxes of all its tracks (see `recording`);
    with `footprints`, every processed frame's time and size (see `coverage`).

    With `sample`, frames closer than 1/cam.fps to the last processed one are skipped (counted);
    live sources sample before their frame queue and pass False.
    """
    gate = MotionGate(width=cam.motion.width, min_area_frac=cam.motion.min_area_frac,
                      warmup_frames=cam.motion.warmup_frames, lighting_frac=cam.motion.lighting_frac)
    tracker = IouTracker()
    det = cam.detector
    yolo = None
    if det.model is not None:
        from routewatch.cameras.detector import YoloTracker

        yolo = YoloTracker(det.model, classes=det.classes, conf=det.conf, tracker=det.tracker)
    live_until: datetime | None = None  # keep detecting this long after the last track was seen
    sampler = Sampler(cam.fps)
    for frame in frames:
        if sample and not sampler.due(frame.time):
            counts["frames_skipped"] += 1
            continue
        live_until = live_until or frame.time
        counts["frames_processed"] += 1
        if footprints is not None:
            footprints.frame(frame.time, frame.image.shape[1], frame.image.shape[0])
        regions = gate.regions(frame.image)
        if yolo is None:
            tracked = tracker.update([Box(r.x1, r.y1, r.x2, r.y2) for r in regions])
        elif det.gate and not regions and frame.time > live_until:
            counts["detector_skipped"] += 1  # a still scene and no live track: no inference (Frigate's saving)
            if record is not None:
                record.put(frame.time, frame.image, ())
            continue
        else:
            counts["detector_calls"] += 1
            tracked = yolo.update(frame.image)
            if any(near_motion(t, regions) for t in tracked):  # moving ones: parked cars keep no detector on
                live_until = frame.time + TRACK_GRACE
        out: list[Observation] = []
        boxes: list[Box] = []
        for t in tracked:
            ground = calib.to_ground(*t.bottom_centre)
            if ground is None:
                counts["not_on_ground"] += 1
                continue
            counts["observations"] += 1
            out.append(Observation(f"{cam.name}/{t.track}", frame.time, ground[0], ground[1],
                                   subject_class=t.cls, confidence=t.conf, source=cam.name))
            boxes.append(t)
        if cache is not None and boxes:  # cached first: an alert on these observations may look for it at once
            cache.put(CachedFrame(frame.time, frame.image, tuple(boxes)))
        if record is not None:
            record.put(frame.time, frame.image, tuple(tracked))
        yield from out
