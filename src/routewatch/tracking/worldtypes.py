"""The world tracker's vocabulary: track states, contributors, updates, deterministic ids.

Also the validation of its input and fast builders of the frozen values it returns by the
hundred thousand a second (routewatch.tracking.world is the tracker).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from routewatch.model import Observation, Role

# World ids of sensor tracks: uuid5 of the observation that started the track, in this namespace.
WORLD_ID_PREFIX = "w-"  # world tracks of sensor tracks; an identified subject's world id is its own id
# Subjects that say who they are: ADS-B (ICAO address) and Remote ID (OpenDroneID), as the MAVLink decoder names them.
TRANSPONDER_PREFIXES = ("adsb:", "odid:")
WORLD_NAMESPACE = uuid.UUID("3b0f7a52-6c1e-4d8a-b2f4-9e5d0c7a1f63")


class TrackState(StrEnum):
    """Lifecycle of a world track."""

    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    COASTING = "coasting"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Contributor:
    """A sensor track that fed a world track, and when."""

    source: str
    local_id: str
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class WorldUpdate:
    """What one input observation became: its world track's estimate at the input's time."""

    world_id: str
    state: TrackState
    observation: Observation
    local_id: str
    sensors: tuple[str, ...]


def world_id_for(source: str, local_id: str, first_time: datetime) -> str:
    """The deterministic id of a world track started by this sensor track at this time.

    >>> from datetime import UTC
    >>> w = world_id_for("cam-a", "cam-a/7", datetime(2026, 1, 1, tzinfo=UTC))
    >>> w == world_id_for("cam-a", "cam-a/7", datetime(2026, 1, 1, tzinfo=UTC)), w.startswith("w-"), len(w)
    (True, True, 14)
    """
    key = f"{source}|{local_id}|{first_time.isoformat()}"
    return WORLD_ID_PREFIX + uuid.uuid5(WORLD_NAMESPACE, key).hex[:12]


def identified(o: Observation) -> bool:
    """Whether the subject carries its identity (our patrols, transponders): its world id is its own id.

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> [identified(Observation(s, t, 0, 0, role=r)) for s, r in
    ...  [("demo/1", Role.PATROL), ("adsb:A1B2C3", Role.TARGET), ("cam-a/7", Role.TARGET)]]
    [True, True, False]
    """
    return o.role is Role.PATROL or o.subject_id.rpartition("/")[2].startswith(TRANSPONDER_PREFIXES)


# The generated __init__ of a frozen dataclass calls object.__setattr__ once per field; setting the
# slots through their descriptors builds the same value in about half the time, and the tracker
# builds two per observation. Checked here against the fields (and in the tests against __init__).
if tuple(Observation.__dataclass_fields__) != (
    "subject_id", "time", "lon", "lat", "alt_m", "subject_class", "role", "confidence", "source", "speed_m_s",
    "heading_deg", "accuracy_m",
) or hasattr(Observation, "__post_init__"):
    raise RuntimeError("routewatch.model.Observation changed: make_observation must follow it")
_O = tuple(getattr(Observation, f).__set__ for f in Observation.__dataclass_fields__)
_U = tuple(getattr(WorldUpdate, f).__set__ for f in WorldUpdate.__dataclass_fields__)


def make_observation(subject_id: str, time: datetime, lon: float, lat: float, alt_m: float | None, subject_class: str,
                 role: Role, confidence: float, source: str, speed_m_s: float | None, heading_deg: float | None,
                 accuracy_m: float | None, _new: Callable[[type], object] = object.__new__,
                 _s0: Callable[[object, object], None] = _O[0], _s1: Callable[[object, object], None] = _O[1],
                 _s2: Callable[[object, object], None] = _O[2], _s3: Callable[[object, object], None] = _O[3],
                 _s4: Callable[[object, object], None] = _O[4], _s5: Callable[[object, object], None] = _O[5],
                 _s6: Callable[[object, object], None] = _O[6], _s7: Callable[[object, object], None] = _O[7],
                 _s8: Callable[[object, object], None] = _O[8], _s9: Callable[[object, object], None] = _O[9],
                 _s10: Callable[[object, object], None] = _O[10],
                 _s11: Callable[[object, object], None] = _O[11]) -> Observation:
    """Observation(...) with every field given, positionally (the setters are bound as locals)."""
    o = _new(Observation)
    _s0(o, subject_id)
    _s1(o, time)
    _s2(o, lon)
    _s3(o, lat)
    _s4(o, alt_m)
    _s5(o, subject_class)
    _s6(o, role)
    _s7(o, confidence)
    _s8(o, source)
    _s9(o, speed_m_s)
    _s10(o, heading_deg)
    _s11(o, accuracy_m)
    return o  # type: ignore[return-value]


def make_update(world_id: str, state: TrackState, observation: Observation, local_id: str, sensors: tuple[str, ...],
            _new: Callable[[type], object] = object.__new__,
            _s: tuple[Callable[[object, object], None], ...] = _U) -> WorldUpdate:
    """WorldUpdate(...), positionally."""
    u = _new(WorldUpdate)
    _s[0](u, world_id)
    _s[1](u, state)
    _s[2](u, observation)
    _s[3](u, local_id)
    _s[4](u, sensors)
    return u  # type: ignore[return-value]


def validate_batch(observations: Sequence[Observation]) -> None:
    """Refuse the whole batch on the first invalid observation, naming it and the problem."""
    for n, o in enumerate(observations):
        if not (-180.0 <= o.lon <= 180.0 and -90.0 <= o.lat <= 90.0):
            problem = f"lon {o.lon}, lat {o.lat} out of range"
        elif o.time.tzinfo is None:
            problem = f"time {o.time.isoformat()} is not tz-aware"
        elif o.accuracy_m is not None and not 0.0 < o.accuracy_m < 1e7:
            problem = f"accuracy_m {o.accuracy_m} not in (0, 1e7)"
        elif not o.subject_id:
            problem = "empty subject_id"
        else:
            continue
        raise ValueError(f"observation {n} ({o.source}/{o.subject_id} at {o.time.isoformat()}): {problem}")
