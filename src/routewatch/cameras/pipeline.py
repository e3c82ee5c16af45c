"""One frame pipeline for fixed and drone cameras: detector -> image tracker -> georeference -> observations.

    timed frames --sample at fps--> Georef.view (pose, footprint) --> Detector.detect (boxes with track ids)
        --> Placer (ground points) --> Observations, and evidence: frame cache (snapshots) and recorder

What differs between cameras is passed in as two small strategies: the `Detector` (a fixed camera's
motion gate with the IoU tracker or YOLO; a drone's YOLO with BoT-SORT or motion-compensated
blobs) and the `Georef` (a fixed camera's homography; a drone's pose ray-cast and ground tracker).
Batch runs (app.videos, cameras.runtime.start_camera) and live cameras (cameras.runtime) use it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from routewatch.cameras.framecache import CachedFrame, FrameCache
from routewatch.ingest.video import Frame
from routewatch.model import Box, Observation
from routewatch.recording.recorder import FrameRecorder
from routewatch.tracking.sampler import Sampler


@dataclass(frozen=True, slots=True)
class Placed:
    """A tracked box and where it stands on the ground (WGS84 lon/lat)."""

    box: Box
    lon: float
    lat: float
    accuracy_m: float | None = None  # one sigma, metres: see Calibration.accuracy_m, geo.accuracy


class Detector(Protocol):
    """Boxes with track ids in one frame; None when the detector did not run on it (counted by the detector)."""

    def detect(self, frame: Frame, t_s: float, placeable: bool) -> Sequence[Box] | None:
        """This frame's tracked boxes; `placeable` is False when the frame cannot be georeferenced."""
        ...

    def finish(self) -> None:
        """The frames are done: add what the detector counted itself."""
        ...


class Placer(Protocol):
    """Ground points of one frame's boxes (boxes that miss the ground are counted and left out)."""

    def __call__(self, boxes: Sequence[Box], t_s: float) -> list[Placed]: ...


class Georef(Protocol):
    """Puts a frame's boxes on the ground: a homography, or the drone's pose at the frame's time."""

    record_unplaced: bool  # does the recorder get the tracks that are not on the ground too?

    def view(self, frame: Frame) -> Placer | None:
        """How to place this frame's boxes; None (counted) when it cannot be placed."""
        ...


@dataclass(slots=True)
class FramePipeline:
    """A camera's frames through its detector and georeference to observations, with evidence on the way."""

    camera: str
    fps: float
    detector: Detector
    georef: Georef
    counts: Counter[str]
    cache: FrameCache | None = None
    record: FrameRecorder | None = None

    def run(self, frames: Iterable[Frame], *, sample: bool = True) -> Iterator[Observation]:
        """Observations of each processed frame, yielded after its frame is cached and recorded.

        With `sample`, frames closer than 1/fps to the last processed one are skipped (counted
        `frames_skipped`); live sources sample before their frame queue and pass False.
        """
        counts, sampler = self.counts, Sampler(self.fps)
        t0: datetime | None = None
        try:
            for frame in frames:
                t0 = t0 or frame.time
                if sample and not sampler.due(frame.time):
                    counts["frames_skipped"] += 1
                    continue
                counts["frames_processed"] += 1
                yield from self._frame(frame, (frame.time - t0).total_seconds())
        finally:
            self.detector.finish()

    def _frame(self, frame: Frame, t_s: float) -> list[Observation]:
        place = self.georef.view(frame)
        boxes = self.detector.detect(frame, t_s, place is not None)
        if place is None or boxes is None:
            if self.record is not None:
                self.record.put(frame.time, frame.image, ())
            return []
        placed = place(boxes, t_s)
        self.counts["observations"] += len(placed)
        shown = tuple(p.box for p in placed)
        if self.cache is not None and shown:  # cached first: an alert on these observations may look for it at once
            self.cache.put(CachedFrame(frame.time, frame.image, shown))
        if self.record is not None:
            self.record.put(frame.time, frame.image, tuple(boxes) if self.georef.record_unplaced else shown)
        return [Observation(f"{self.camera}/{p.box.track}", frame.time, p.lon, p.lat, subject_class=p.box.cls,
                            confidence=p.box.conf, source=self.camera, accuracy_m=p.accuracy_m) for p in placed]
