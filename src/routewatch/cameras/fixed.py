"""Fixed cameras: their detector (motion gate, then IoU tracker or YOLO) and georeference (homography).

Both go into the one frame pipeline (cameras.pipeline): video -> motion gate -> tracker -> ground point.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from routewatch.cameras.detector import yolo_tracker
from routewatch.cameras.footprints import FixedFootprints
from routewatch.cameras.framecache import FrameCache
from routewatch.cameras.motion import MotionGate, near_motion
from routewatch.cameras.pipeline import FramePipeline, Placed, Placer
from routewatch.config.cameras import CameraConfig
from routewatch.geo.homography import Calibration, CalibrationError, GroundControlPoint
from routewatch.ingest.video import Frame, VideoStats, iter_file
from routewatch.model import Box, Observation
from routewatch.recording.recorder import FrameRecorder, follow_source
from routewatch.tracking.iou import IouTracker

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
    with `footprints`, every processed frame's time and size (see `cameras.footprints`).

    With `sample`, frames closer than 1/cam.fps to the last processed one are skipped (counted);
    live sources sample before their frame queue and pass False.
    """
    georef = Homography(calib, counts, footprints, cam.pixel_error_px)
    pipeline = FramePipeline(cam.name, cam.fps, GatedDetector(cam, counts), georef, counts, cache, record)
    yield from pipeline.run(frames, sample=sample)


class GatedDetector:
    """A fixed camera's detector: the motion gate, then the IoU tracker on its blobs, or YOLO while things move."""

    def __init__(self, cam: CameraConfig, counts: Counter[str]) -> None:
        m, det = cam.motion, cam.detector
        self.gate = MotionGate(width=m.width, min_area_frac=m.min_area_frac, warmup_frames=m.warmup_frames,
                               lighting_frac=m.lighting_frac)
        self.tracker = IouTracker()
        self.yolo = yolo_tracker(det, det.tracker)
        self.gated, self.counts = det.gate, counts
        self.live_until: datetime | None = None  # keep detecting this long after the last moving track was seen

    def detect(self, frame: Frame, t_s: float, placeable: bool) -> list[Box] | None:
        """Tracked boxes; None when the scene is still and no track is live (no inference: Frigate's saving)."""
        self.live_until = self.live_until or frame.time
        regions = self.gate.regions(frame.image)
        if self.yolo is None:
            return self.tracker.update([Box(r.x1, r.y1, r.x2, r.y2) for r in regions])
        if self.gated and not regions and frame.time > self.live_until:
            self.counts["detector_skipped"] += 1
            return None
        self.counts["detector_calls"] += 1
        tracked = self.yolo.update(frame.image)
        if any(near_motion(t, regions) for t in tracked):  # moving ones: parked cars keep no detector on
            self.live_until = frame.time + TRACK_GRACE
        return tracked

    def finish(self) -> None:
        """Nothing of its own to count."""


class Homography:
    """A fixed camera's georeference: the bottom centre of a box through the calibration's homography.

    Each ground point carries its accuracy (Calibration.accuracy_m with `pixel_error_px`).
    """

    record_unplaced = True  # the recorder shows every track, also those above the horizon

    def __init__(self, calib: Calibration, counts: Counter[str], footprints: FixedFootprints | None = None,
                 pixel_error_px: float = 2.0) -> None:
        self.calib, self.counts, self.footprints = calib, counts, footprints
        self.pixel_error_px = pixel_error_px

    def view(self, frame: Frame) -> Placer:
        """Every frame of a fixed camera can be placed; its footprint is recorded."""
        if self.footprints is not None:
            self.footprints.frame(frame.time, frame.image.shape[1], frame.image.shape[0])
        return self.place

    def place(self, boxes: Sequence[Box], t_s: float) -> list[Placed]:
        """Ground points of the boxes; those off the ground plane are counted `not_on_ground`."""
        out: list[Placed] = []
        for b in boxes:
            u, v = b.bottom_centre
            ground = self.calib.to_ground(u, v)
            if ground is None:
                self.counts["not_on_ground"] += 1
            else:
                out.append(Placed(b, ground[0], ground[1], self.calib.accuracy_m(u, v, self.pixel_error_px)))
        return out
