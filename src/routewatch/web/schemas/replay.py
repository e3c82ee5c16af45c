"""Replay for commanders: frames' boxes, positions, cameras, sorties, corridors at a time, footprints."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from routewatch.web.schemas.base import Out, Time
from routewatch.web.schemas.geojson import CorridorFeature, Feature


class ReplayBox(Out):
    """A tracked box in full-frame pixels."""

    track: str
    cls: str
    conf: float
    x1: float
    y1: float
    x2: float
    y2: float


class ReplayFrame(Out):
    """One recorded frame: its time and its tracked boxes."""

    time: Time
    boxes: list[ReplayBox]


class ReplayBoxes(Out):
    """A part of a window's frames, oldest first; `next`: where the rest begins (or null)."""

    camera: str
    truncated: bool
    next: Time | None
    frames: list[ReplayFrame]


class ReplayPosition(Out):
    """A stored position."""

    subject_id: str
    time: Time
    lon: float
    lat: float
    alt_m: float | None
    subject_class: str | None = Field(alias="class")
    role: str
    heading_deg: float | None
    speed_m_s: float | None
    source: str = Field(description='The sensor that reported it; "world" for a world track (fused).')


class ReplayPositions(Out):
    """Stored positions, oldest first; `truncated` past the cap."""

    truncated: bool
    positions: list[ReplayPosition]


class ReplayCamera(Out):
    """A recorded camera: its first and last frame time, segments and frames."""

    camera: str
    first: Time
    last: Time
    segments: int
    frames: int


class ReplayCameras(Out):
    """The recorded cameras."""

    cameras: list[ReplayCamera]


class Sortie(Out):
    """A drone sortie; `camera` is the one to replay it with (null: none)."""

    drone: str
    subject_class: str = Field(alias="class")
    start: Time
    end: Time
    fixes: int
    bbox: tuple[float, float, float, float]
    cameras_checked: bool
    following: list[str]
    seen_by: list[str]
    recorded: list[str]
    camera: str | None


class Sorties(Out):
    """Sorties in a window, by start."""

    gap_s: float
    truncated: bool
    footprints_truncated: bool
    sorties: list[Sortie]


class CorridorsAt(Out):
    """Corridors in force at `t`, holding from `since` until `until` (null: open), and `raised`: versions
    the window's alerts were raised against where another (or none) is in force then."""

    type: Literal["FeatureCollection"]
    features: list[CorridorFeature]
    t: Time
    since: Time | None
    until: Time | None
    raised: list[CorridorFeature]


class Footprints(Out):
    """Camera footprints: polygons with camera, kind, start and end (exclusive)."""

    type: Literal["FeatureCollection"]
    truncated: bool
    features: list[Feature]
