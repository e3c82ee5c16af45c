"""Shared vocabulary of routewatch: immutable values passed between stages.

Nothing here does I/O or imports other routewatch modules. Times are tz-aware UTC
datetimes taken from the data (event time); units are in the field names.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # shapely (and numpy) load only where geometry is built
    from shapely.geometry.base import BaseGeometry


class Role(StrEnum):
    """What a subject is to us: our own patrol asset or something we watch."""

    PATROL = "patrol"
    TARGET = "target"


class CorridorKind(StrEnum):
    """How a geofence alerts (see DESIGN.md, corridor file)."""

    CORRIDOR = "corridor"
    EXCLUSION = "exclusion"
    OPERATING_AREA = "operating_area"
    LINE = "line"


class Direction(StrEnum):
    """Alerting direction along a corridor's centre-line, relative to vertex order."""

    FORWARD = "forward"
    REVERSE = "reverse"
    BOTH = "both"


class EventKind(StrEnum):
    """What a rule saw happen to a (subject, corridor) pair; an alert's kind is one of ALERT_KINDS."""

    ENTER = "enter"
    EXIT = "exit"
    DWELL = "dwell"
    ALONG = "along"
    CROSS = "cross"
    BREACH = "breach"
    RETURN = "return"


# The kinds an alert can have: every EventKind but RETURN, which only closes a breach alert.
ALERT_KINDS: tuple[EventKind, ...] = tuple(k for k in EventKind if k is not EventKind.RETURN)


class AlertState(StrEnum):
    """Lifecycle state of an alert."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Severity(StrEnum):
    """Alert severity, lowest first."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Change(StrEnum):
    """A lifecycle change of an alert, as published to sinks."""

    OPENED = "opened"
    UPDATED = "updated"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Observation:
    """One georeferenced sighting of a subject at an event time (WGS84 lon/lat)."""

    subject_id: str
    time: datetime
    lon: float
    lat: float
    alt_m: float | None = None
    subject_class: str = "unknown"
    role: Role = Role.TARGET
    confidence: float = 1.0
    source: str = ""
    speed_m_s: float | None = None
    heading_deg: float | None = None
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class Attitude:
    """Vehicle attitude in degrees (MAVLink ATTITUDE)."""

    subject_id: str
    time: datetime
    roll_deg: float
    pitch_deg: float
    yaw_deg: float
    source: str = ""


@dataclass(frozen=True, slots=True)
class VehicleStatus:
    """Vehicle type, mode and arming state (MAVLink HEARTBEAT)."""

    subject_id: str
    time: datetime
    vehicle_type: str
    mode: str
    armed: bool
    source: str = ""


@dataclass(frozen=True, slots=True)
class FenceStatus:
    """The autopilot's own fence state (MAVLink FENCE_STATUS)."""

    subject_id: str
    time: datetime
    breached: bool
    breach_count: int
    breach_type: int
    source: str = ""


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """Receiver clock minus vehicle clock (SYSTEM_TIME vs receipt or tlog time)."""

    subject_id: str
    time: datetime
    offset_s: float
    source: str = ""


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """A source's link came up or went down."""

    source: str
    time: datetime
    up: bool
    detail: str = ""


TelemetryEvent = Observation | Attitude | VehicleStatus | FenceStatus | ClockOffset | LinkStatus


@dataclass(frozen=True, slots=True)
class Corridor:
    """One geofence version; geometry is WGS84 lon/lat as drawn (not buffered).

    `min_sensors` asks for corroboration: an alert opens only once that many sensors have seen
    the (world) subject, waiting at most `confirm_s` of event time after the rule fired.
    """

    id: str
    geometry: BaseGeometry
    kind: CorridorKind = CorridorKind.CORRIDOR
    version: int = 1
    name: str = ""
    width_m: float | None = None
    direction: Direction | None = None
    classes: frozenset[str] = frozenset()
    min_dwell_s: float | None = None
    min_progress_m: float | None = None
    severity: Severity | None = None
    subjects: frozenset[str] = frozenset()
    roles: frozenset[Role] = frozenset()
    min_sensors: int | None = None
    confirm_s: float | None = None

    def applies_to(self, subject_class: str, role: Role, subject_id: str = "") -> bool:
        """Whether a subject of this class and role is tested against this corridor.

        Operating areas apply to patrol assets only (those named in `subjects`, if any). Other
        kinds apply to the roles in `roles`; without `roles`, to everything that is not ours, so
        our own patrols crossing a line or an exclusion raise nothing unless the corridor opts in.

        >>> from shapely.geometry import Point
        >>> c = Corridor("a", Point(0, 0).buffer(1), classes=frozenset({"person"}))
        >>> c.applies_to("person", Role.TARGET), c.applies_to("car", Role.TARGET), c.applies_to("person", Role.PATROL)
        (True, False, False)
        >>> nofly = Corridor("b", Point(0, 0).buffer(1), CorridorKind.EXCLUSION, roles=frozenset({Role.PATROL}))
        >>> nofly.applies_to("drone", Role.PATROL), nofly.applies_to("drone", Role.TARGET)
        (True, False)
        """
        if self.kind is CorridorKind.OPERATING_AREA:
            if self.subjects and subject_id not in self.subjects:
                return False
            return role is Role.PATROL and (not self.classes or subject_class in self.classes)
        if role not in (self.roles or _TARGETS):
            return False
        return not self.classes or subject_class in self.classes


_TARGETS = frozenset({Role.TARGET})


@dataclass(frozen=True, slots=True)
class RuleEvent:
    """A rule outcome for one (subject, corridor) pair at an event time.

    `sensors` names the sensor tracks ("cam-a/7") that fed the subject's world track so far.
    """

    kind: EventKind
    time: datetime
    subject_id: str
    subject_class: str
    corridor_id: str
    corridor_version: int
    lon: float
    lat: float
    heading_deg: float | None = None
    speed_m_s: float | None = None
    progress_m: float | None = None
    detail: str = ""
    source: str = ""
    sensors: tuple[str, ...] = ()


ALERT_NAMESPACE = uuid.UUID("6f1c2a0e-8b7d-4e55-9a57-0d1b3c7e2f10")


def alert_id(subject_id: str, corridor_id: str, kind: str, opened_at: datetime) -> str:
    """Deterministic alert id: the same episode in the same data gives the same id.

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> alert_id("s", "c", "enter", t) == alert_id("s", "c", "enter", t)
    True
    """
    key = f"{subject_id}|{corridor_id}|{kind}|{opened_at.isoformat()}"
    return str(uuid.uuid5(ALERT_NAMESPACE, key))


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert with its lifecycle; times are event times.

    `sensors` are the witnesses: the sensor tracks ("cam-a/7", "patrol/t3") that saw the subject.
    """

    id: str
    kind: EventKind
    corridor_id: str
    corridor_version: int
    subject_id: str
    subject_class: str
    opened_at: datetime
    last_seen: datetime
    lon: float
    lat: float
    severity: Severity
    state: AlertState = AlertState.OPEN
    closed_at: datetime | None = None
    heading_deg: float | None = None
    speed_m_s: float | None = None
    progress_m: float | None = None
    updates: int = 0
    detail: str = ""
    source: str = ""
    evidence: tuple[str, ...] = field(default=())
    sensors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One lifecycle change of an alert, handed to stores and sinks."""

    change: Change
    alert: Alert


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a bus (MQTT), as received; `token` lets the adapter acknowledge it later."""

    topic: str
    payload: bytes
    received_at: datetime
    token: int = 0
    retain: bool = False


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input that could not be used: where it came from, why, and the start of it."""

    topic: str
    reason: str
    payload_excerpt: str
    received_at: datetime
    size_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Box:
    """An object's box in one frame (full-frame pixels), its class and confidence, and its track id once tracked.

    Detectors give boxes; image trackers give them a `track` (empty until then); the recorder,
    the frame cache and the evidence drawing keep them as they are.
    """

    x1: float
    y1: float
    x2: float
    y2: float
    cls: str = "moving_object"
    conf: float = 1.0
    track: str = ""

    @property
    def bottom_centre(self) -> tuple[float, float]:
        """Where the object stands on the ground (Frigate uses the same point)."""
        return (self.x1 + self.x2) / 2.0, self.y2

    def clipped(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The box as whole pixels inside a width x height image.

        >>> Box(-5, 10.4, 700, 20.6).clipped(640, 480)
        (0, 10, 639, 21)
        """
        x1 = min(max(round(self.x1), 0), width - 1)
        y1 = min(max(round(self.y1), 0), height - 1)
        x2 = min(max(round(self.x2), 0), width - 1)
        y2 = min(max(round(self.y2), 0), height - 1)
        return x1, y1, max(x1, x2), max(y1, y2)


# Pose fields that are angles in degrees (interpolated along the shorter arc).
POSE_ANGLES = ("heading_deg", "pitch_deg", "roll_deg", "gimbal_pitch_deg", "gimbal_yaw_deg", "gimbal_roll_deg")


@dataclass(frozen=True, slots=True)
class Pose:
    """Vehicle position (WGS84, alt_m) and attitude at `time`, with the gimbal's angles when known.

    Gimbal angles are z-y-x Euler angles in the gimbal protocol's vehicle frame: yaw relative to
    the vehicle heading, pitch and roll relative to the horizon (geo.dronepose converts other
    frames into it). hfov_deg/vfov_deg: the camera's field of view when the source reports it.
    """

    time: datetime
    lon: float
    lat: float
    alt_m: float
    heading_deg: float
    pitch_deg: float
    roll_deg: float
    gimbal_pitch_deg: float | None = None
    gimbal_yaw_deg: float | None = None
    gimbal_roll_deg: float | None = None
    hfov_deg: float | None = None
    vfov_deg: float | None = None

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError(f"pose time must be tz-aware, got {self.time.isoformat()}")
        angles = (getattr(self, a) for a in POSE_ANGLES)
        values = [self.lon, self.lat, self.alt_m, *angles, self.hfov_deg, self.vfov_deg]
        if not all(v is None or math.isfinite(v) for v in values):
            raise ValueError(f"pose at {self.time.isoformat()} has a non-finite value")
        for fov in (self.hfov_deg, self.vfov_deg):
            if fov is not None and not 0.0 < fov < 180.0:
                raise ValueError(f"pose at {self.time.isoformat()}: field of view {fov} not in (0, 180) degrees")
        if not (-180.0 <= self.lon <= 180.0 and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"pose at {self.time.isoformat()}: lon {self.lon}, lat {self.lat} out of range")


@dataclass(frozen=True, slots=True)
class CameraPose:
    """Sensor position (WGS84 lat/lon, altitude in metres) and platform and sensor angles in degrees."""

    lat: float
    lon: float
    alt_m: float
    heading_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    az_deg: float = 0.0
    el_deg: float = 0.0
    sensor_roll_deg: float = 0.0
