"""A real street video (../shared/data/video/traffic_topdown.mp4), its calibration and hand labels.

The clip (640x360, about 10 fps, 73 s; PROVENANCE.md) looks down from a window onto a residential
street: cars parked on both sides, cars driving through in both directions. Nothing here comes
from routewatch's output: the calibration was measured on the frames, the passages were labelled
by eye (frames decoded with OpenCV, the gate drawn on them), and the crossing rule below is our
own, for checking bare Ultralytics tracks against the labels.

Ground frame (metres): x along the street, growing to the right of the image (called east), y across
it from the near curb (y = 0, bottom of the image) to the far curb (y = 10.4, north). The clip's
real location is not published, so the frame sits at an arbitrary place.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
from shapely.geometry import LineString, box
from shapely.geometry.base import BaseGeometry

from routewatch.geo.crs import LocalFrame
from routewatch.model import Corridor, CorridorKind, Direction

FRAME = LocalFrame(-105.0, 39.75)
T0 = datetime(2016, 11, 17, 16, 0, tzinfo=UTC)  # first frame's wall time (arbitrary; the clip has none)
VIDEO = "traffic_topdown.mp4"
CLASSES = ["car", "truck", "bus", "motorcycle"]

# How the ground control points were chosen. Street geometry assumed: 10.4 m curb to curb (two
# 2.2 m parking lanes and two 3 m travel lanes, a common US residential street); the street-side
# wheels of the cars parked on the far side are 0.25 + 1.6 m from that curb (y = 8.55); wheelbases
# are 2.7 m, the parked Hummer H2 is 5.2 m long and the white sedan 4.6 m. A pinhole camera (focal
# length, height, set-back, pan, tilt, roll) was fitted by least squares to those features as
# measured on a frame with an empty road (frame 200). It comes out about 9.4 m up, 1.5 m back from
# the near curb, panned 32 degrees towards the right end of the street, looking down 52 degrees,
# rolled 29 degrees, with a wide (96 degree) lens, and fits every feature to within 0.4 m; it gave
# the along-street x of the points below (rounded to 0.1 m).
# Pixels (u right, v down) -> ground (x, y) in metres:
GCPS: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = (
    ((280.0, 92.0), (-7.1, 10.4)),    # far curb (gutter line), behind the parked black sedan
    ((580.0, 52.0), (6.2, 10.4)),     # far curb at the right, in the building's shadow
    ((95.0, 147.0), (-20.1, 8.55)),   # far side: silver sedan's left wheel on the road
    ((268.0, 123.0), (-7.3, 8.55)),   # far side: black sedan's right wheel on the road
    ((100.0, 283.0), (-13.3, 0.0)),   # near curb (edge of the gravel strip), left
    ((440.0, 315.0), (0.3, 0.0)),     # near curb under the white sedan's right wheel
)
MAX_ERROR_M = 1.0

# Corridors. The gate is a line across the whole street, curb to curb, drawn from the near curb to the
# far one: a car going east crosses it left to right. It passes 0.5 m from where the parked Hummer
# touches the ground and 2 m from the parked black sedan opposite: parked cars must not trip it.
GATE_X = -6.0
STREET_W = 10.4
# The westbound lane check: a corridor over both travel lanes (y 1.5-6.5 m, clear of both parking
# lanes), its centre-line drawn east to west, alerting on movement along it westwards only.
LANE_Y, LANE_W, LANE_X = 4.0, 5.0, (6.0, -22.0)
LANE_MIN_PROGRESS_M = 6.0


def corridors() -> list[Corridor]:
    """The gate and the westbound lane, in lon/lat."""
    gate = Corridor("gate", FRAME.to_lonlat(LineString([(GATE_X, 0.0), (GATE_X, STREET_W)])), kind=CorridorKind.LINE)
    lane = Corridor("westbound", FRAME.to_lonlat(LineString([(LANE_X[0], LANE_Y), (LANE_X[1], LANE_Y)])),
                    kind=CorridorKind.CORRIDOR, width_m=LANE_W, direction=Direction.FORWARD,
                    min_progress_m=LANE_MIN_PROGRESS_M)
    return [gate, lane]


def eastbound_lane_area() -> BaseGeometry:
    """The near travel lane (y 1-4.5 m) over the whole view, in lon/lat, for position queries."""
    return FRAME.to_lonlat(box(-40.0, 1.0, 20.0, 4.5))


# Engine settings for a camera: fixes come 10 times a second with about a metre of noise, so a car
# must be 3 m past the gate (not the default 5 m, sized for GPS) and a side change holds for 0.5 s
# (not 1 s): with the defaults a car crossing the 30 m of visible street can leave the view first.
# Only cross and along alerts: an enter alert for every car driving into the lane says nothing here.
SETTINGS_YAML = "engine: {hysteresis_m: 3.0, confirm_s: 0.5}\nalerts: {kinds: [cross, along]}\n"
HYSTERESIS_M = 3.0

WEST, EAST = "right to left", "left to right"  # as the gate's alerts say it


@dataclass(frozen=True)
class Passage:
    """A vehicle driving through the gate, labelled by eye: the frame where its middle is on the gate."""

    name: str
    what: str
    frame: int
    direction: str
    classes: frozenset[str]
    required: bool = True  # False: the model barely sees it, so an alert is allowed, not expected


CAR = frozenset({"car", "truck"})
# Labelled on frames 0-733 with the gate drawn (every frame near each passage). Between passages
# D and E and the bus, D and E wait at the left edge for the bus to turn in (frames 300-440):
# they never reach the gate again.
PASSAGES = (
    Passage("A", "red pickup", 43, WEST, CAR),
    Passage("B", "white SUV", 114, EAST, CAR),
    # The dark pickup against the dark road: the model finds it in about 8 of its 50 frames.
    Passage("C", "dark grey pickup", 140, WEST, CAR, required=False),
    Passage("D", "red hatchback", 251, WEST, CAR),
    Passage("E", "dark sedan", 292, WEST, CAR),
    Passage("F", "white sedan", 441, EAST, CAR),
    # The school bus seen from above: one detection in its 60 frames.
    Passage("G", "school bus", 533, EAST, frozenset({"bus", "truck"}), required=False),
    Passage("H", "red sedan", 614, EAST, CAR),
)
CROSS_TOL_S = 0.5  # hand label vs alert: under half a car length at these speeds (4-9 m/s)


def frame_times(video: Path) -> list[float]:
    """Container time (s) of every decodable frame, as OpenCV reports it; frames are unevenly spaced."""
    cap = cv2.VideoCapture(str(video))
    times = []
    while cap.grab():
        times.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
    cap.release()
    return times


def label_time(times: Sequence[float], frame: int) -> datetime:
    """Wall time of a labelled frame."""
    return T0 + timedelta(seconds=times[frame])


def pixel_to_ground() -> np.ndarray:
    """A least-squares homography of our own (OpenCV) from the GCPs: pixels -> ground metres."""
    src = np.float64([p for p, _ in GCPS])
    dst = np.float64([g for _, g in GCPS])
    h, _ = cv2.findHomography(src, dst, 0)
    return h


def to_ground(h: np.ndarray, u: float, v: float) -> tuple[float, float]:
    x, y, w = h @ np.array([u, v, 1.0])
    return float(x / w), float(y / w)


@dataclass(frozen=True)
class Crossing:
    """A gate crossing: when, which way (as the gate's alerts word it), by whom, of what class."""

    time: datetime
    direction: str
    subject: str
    cls: str


def gate_crossings(tracks: dict[str, list[tuple[datetime, float, float, str]]]) -> list[Crossing]:
    """Our own gate rule on ground tracks: a crossing counts once the track is HYSTERESIS_M past the gate.

    A track that goes back over the gate before that cancels it (jitter, not a crossing).
    """
    out = []
    for subject, fixes in tracks.items():
        pending: Crossing | None = None
        for (t0, x0, y0, _), (t1, x1, y1, cls) in pairwise(fixes):
            if (x0 - GATE_X) * (x1 - GATE_X) < 0:
                f = (GATE_X - x0) / (x1 - x0)
                if 0.0 <= y0 + f * (y1 - y0) <= STREET_W:
                    way = EAST if x1 > x0 else WEST
                    pending = None if pending is not None and pending.direction != way else \
                        Crossing(t0 + f * (t1 - t0), way, subject, cls)
            if pending is not None and abs(x1 - GATE_X) >= HYSTERESIS_M:
                out.append(pending)
                pending = None
    return sorted(out, key=lambda c: c.time)


def match(crossings: Iterable[Crossing], times: Sequence[float],
          tol_s: float = CROSS_TOL_S) -> tuple[dict[str, list[Crossing]], list[Crossing]]:
    """Crossings by the passage they belong to (same time within tol_s), and those that belong to none."""
    labelled = [(p, label_time(times, p.frame)) for p in PASSAGES]
    starts = [t for _, t in labelled]
    matched: dict[str, list[Crossing]] = {p.name: [] for p in PASSAGES}
    stray = []
    for c in crossings:
        k = bisect.bisect_left(starts, c.time)
        near = [p for p, t in labelled[max(0, k - 1):k + 1] if abs((c.time - t).total_seconds()) <= tol_s]
        if len(near) == 1:
            matched[near[0].name].append(c)
        else:
            stray.append(c)
    return matched, stray


def check_against_labels(crossings: list[Crossing], times: Sequence[float]) -> dict[str, list[Crossing]]:
    """Assert that crossings are exactly the labelled passages (required ones once, optional at most once)."""
    matched, stray = match(crossings, times)
    assert not stray, f"crossings no one labelled: {stray}"
    for p in PASSAGES:
        got = matched[p.name]
        assert len(got) == 1 if p.required else len(got) <= 1, (p, got)
        for c in got:
            assert c.direction == p.direction, (p, c)
            assert c.cls in p.classes, (p, c)
    return matched
