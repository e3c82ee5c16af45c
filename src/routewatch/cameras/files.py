"""A camera's recorded video files through the frame pipeline: the one place that picks fixed or drone.

A fixed camera is placed by its calibration, a drone camera by its pose files (all read before any
work, so a bad one fails before the first frame). `analyze --camera` and `run`'s file cameras use it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from routewatch.cameras.fixed import calibrate, observations
from routewatch.config.cameras import CameraConfig
from routewatch.ingest.video import VideoStats
from routewatch.model import Observation

if TYPE_CHECKING:
    from routewatch.cameras.drone import DroneVision
    from routewatch.cameras.footprints import CoverageRecorder, DroneFootprints, FixedFootprints
    from routewatch.cameras.framecache import FrameCache
    from routewatch.geo.homography import Calibration
    from routewatch.recording.recorder import FrameRecorder


@dataclass(frozen=True, slots=True)
class FileVision:
    """One camera's vision over its recorded files: a calibration (fixed) or pose files (drone)."""

    cam: CameraConfig
    calib: Calibration | None = None
    drone: DroneVision | None = None
    fixed_fp: FixedFootprints | None = None
    drone_fp: DroneFootprints | None = None

    def with_coverage(self, coverage: CoverageRecorder | None) -> FileVision:
        """The same vision, recording the camera's footprints into `coverage` (if it records any)."""
        if coverage is None:
            return self
        if self.calib is not None:
            return replace(self, fixed_fp=coverage.fixed(self.cam.name, self.calib))
        return replace(self, drone_fp=coverage.drone(self.cam.name))

    def observations(self, path: Path, counts: Counter[str], video: VideoStats | None = None, *,
                     cache: FrameCache | None = None, record: FrameRecorder | None = None) -> Iterator[Observation]:
        """Tracks in one video file placed on the ground, as the camera's kind places them."""
        if self.drone is not None:
            return self.drone.observations(path, counts, video, cache=cache, record=record, footprints=self.drone_fp)
        assert self.calib is not None
        return observations(path, self.cam, self.calib, counts, video, cache=cache, record=record,
                            footprints=self.fixed_fp)


def file_vision(cam: CameraConfig, inputs: Sequence[Path]) -> FileVision:
    """The vision for `cam`'s files; CalibrationError or a pose-file error before any frame is read."""
    if cam.kind == "drone":
        from routewatch.cameras.drone import DroneVision

        return FileVision(cam, drone=DroneVision.for_videos(inputs, cam))
    return FileVision(cam, calib=calibrate(cam))
