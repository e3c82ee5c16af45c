"""The one camera frame pipeline with stand-in strategies: what it counts, caches, records and yields."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from routewatch.cameras.framecache import FrameCache
from routewatch.cameras.pipeline import FramePipeline, Placed, Placer
from routewatch.ingest.video import Frame
from routewatch.model import Box

T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
IMG = np.zeros((4, 4, 3), np.uint8)
ON = Box(0, 0, 2, 2, "person", 0.9, track="1")
OFF = Box(0, 0, 2, 9, "person", 0.8, track="2")  # its bottom is off the ground


def frames(n: int, step_s: float = 0.1) -> list[Frame]:
    return [Frame("cam", i, T0 + timedelta(seconds=i * step_s), IMG) for i in range(n)]


@dataclass
class Detector:
    """Gives ON and OFF in every frame, except `skip` frames (a gated detector's still scene)."""

    skip: set[int] = field(default_factory=set)
    seen: list[tuple[float, bool]] = field(default_factory=list)
    finished: bool = False

    def detect(self, frame: Frame, t_s: float, placeable: bool) -> Sequence[Box] | None:
        self.seen.append((round(t_s, 6), placeable))
        return None if frame.index in self.skip else [ON, OFF]

    def finish(self) -> None:
        self.finished = True


@dataclass
class Georef:
    """Places boxes whose bottom is above y=5; no view for `blind` frames (a drone frame without a pose)."""

    record_unplaced: bool
    blind: set[int] = field(default_factory=set)

    def view(self, frame: Frame) -> Placer | None:
        if frame.index in self.blind:
            return None

        def place(boxes: Sequence[Box], t_s: float) -> list[Placed]:
            return [Placed(b, 10.0, 50.0) for b in boxes if b.y2 < 5]

        return place


@dataclass
class Recorder:
    got: list[tuple[datetime, tuple[Box, ...]]] = field(default_factory=list)

    def put(self, time: datetime, image: np.ndarray, boxes: tuple[Box, ...]) -> None:
        self.got.append((time, boxes))


def test_placed_tracks_become_observations_and_evidence() -> None:
    counts: Counter[str] = Counter()
    det, rec = Detector(skip={2}), Recorder()
    cache = FrameCache(10, timedelta(minutes=1))
    pipe = FramePipeline("cam", 10.0, det, Georef(record_unplaced=True, blind={3}), counts, cache, rec)
    obs = list(pipe.run(frames(5)))
    assert [(o.subject_id, o.time, o.subject_class, o.confidence, o.source) for o in obs] == [
        ("cam/1", T0 + timedelta(seconds=i / 10), "person", 0.9, "cam") for i in (0, 1, 4)]
    assert counts == {"frames_processed": 5, "observations": 3}
    # Every processed frame is recorded: skipped and blind ones without boxes, others with all their tracks.
    assert [boxes for _, boxes in rec.got] == [(ON, OFF), (ON, OFF), (), (), (ON, OFF)]
    found = cache.find("1", T0 + timedelta(seconds=0.25))
    assert found is not None and found[0].time == T0 + timedelta(seconds=0.1) and found[1] == ON
    assert cache.find("2", T0 + timedelta(seconds=1)) is None  # only placed tracks are evidence
    assert det.finished and [p for _, p in det.seen] == [True, True, True, False, True]


def test_a_drone_like_georef_records_placed_tracks_only_and_sampling_counts_skips() -> None:
    counts: Counter[str] = Counter()
    det, rec = Detector(), Recorder()
    pipe = FramePipeline("cam", 5.0, det, Georef(record_unplaced=False), counts, None, rec)
    obs = list(pipe.run(frames(6)))  # 10 fps sampled at 5
    assert [o.time for o in obs] == [T0 + timedelta(seconds=s) for s in (0.0, 0.2, 0.4)]
    assert counts == {"frames_processed": 3, "frames_skipped": 3, "observations": 3}
    assert [boxes for _, boxes in rec.got] == [(ON,)] * 3
    assert [t for t, _ in det.seen] == [0.0, 0.2, 0.4]  # seconds since the first frame, skipped ones included


def test_live_sources_pass_unsampled_frames() -> None:
    counts: Counter[str] = Counter()
    pipe = FramePipeline("cam", 1.0, Detector(), Georef(record_unplaced=False), counts)
    assert len(list(pipe.run(frames(4), sample=False))) == 4
    assert counts["frames_skipped"] == 0
