"""The world tracker: fusion of every sensor's tracks into one track per real thing."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from routewatch.config.base import Section, speeds_by_class

# Classes that may be fused with any class (a detector that cannot tell, a motion blob).
WILDCARD_CLASSES = frozenset({"unknown", "moving_object"})


class WorldConfig(Section):
    """World tracks: a constant-velocity Kalman filter per track, chi-square gating, one global assignment per scan."""

    enabled: bool = Field(
        False,
        description="Fuse sensor tracks into world tracks (one subject per real thing across sensors). Off: every "
        "sensor track is its own subject, as before.",
    )
    gate_probability: float = Field(
        0.997, ge=0.9, le=0.99999,
        description="Chi-square gate on the 2-D innovation (Mahalanobis distance): the probability that a true "
        "match falls inside it. Higher fuses more readily.",
    )
    process_noise_m_s2: float = Field(
        0.3, gt=0, le=100,
        description="White-acceleration noise of the constant-velocity model (1-sigma, m/s^2); about how hard "
        "the tracked things manoeuvre. 0.3 fits walkers and road traffic between fixes; it also sets how fast a "
        "silent track's predicted area grows (at 1.0 a walker's grew to ~100 m in 30 s and took in strangers).",
    )
    new_track_density_km2: float = Field(
        200.0, gt=0, le=1e6,
        description="New (not yet tracked) things per km^2 where they appear (at the views' edges). A new sensor "
        "track joins a coasting world track only when that track's prediction explains it better than a new "
        "thing would (likelihood ratio); tracks silent less than coast_s are decided by the gate alone. Lower "
        "hands off more readily.",
    )
    default_accuracy_m: float = Field(
        8.0, gt=0, le=10000,
        description="Position 1-sigma (m) of an observation that carries no accuracy_m.",
    )
    confirm_hits: int = Field(
        2, ge=1, le=100,
        description="Observations before a new world track is confirmed (identified subjects are confirmed at once).",
    )
    coast_s: float = Field(
        10.0, gt=0, le=3600,
        description="A confirmed track silent this long is coasting (it can still take a new sensor track: the "
        "handoff); a tentative track silent this long ends.",
    )
    end_s: float = Field(
        15.0, gt=0, le=86400,
        description="A track silent this long ends; later observations of its sensor tracks start a new one. "
        "15 s covers a walker crossing a gap of 10-15 m between views; longer, a stranger entering where the "
        "track left becomes the likelier match.",
    )
    max_speed_m_s: dict[str, float] = Field(
        default_factory=lambda: {
            "person": 8.0, "bicycle": 20.0, "car": 60.0, "truck": 45.0, "bus": 40.0, "motorcycle": 70.0,
            "vehicle": 60.0, "boat": 30.0, "drone": 40.0, "aircraft": 300.0, "default": 60.0,
        },
        description="By class ('default' for the rest): a new sensor track joins a world track only if the jump "
        "from the track's last position over the gap fits this speed.",
    )
    compatible: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "person": ["person"],
            "car": ["truck", "bus", "motorcycle", "vehicle"],
            "truck": ["bus", "vehicle"],
            "bus": ["vehicle"],
            "motorcycle": ["bicycle", "vehicle"],
            "drone": ["aircraft"],
        },
        description="Classes that may be one thing (read both ways: car lists truck, so a truck may fuse with a "
        "car). A class never listed fuses only with itself; 'unknown' and 'moving_object' fuse with any class.",
    )

    @field_validator("max_speed_m_s")
    @classmethod
    def _speeds(cls, v: dict[str, float]) -> dict[str, float]:
        return speeds_by_class(v, 60.0)

    @field_validator("compatible")
    @classmethod
    def _classes(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        empty = sorted(k for k, names in v.items() if not k or any(not n for n in names))
        if empty:
            raise ValueError(f"class names must not be empty (in the entry of {empty})")
        return v

    @model_validator(mode="after")
    def _lifecycle(self) -> WorldConfig:
        if self.end_s <= self.coast_s:
            raise ValueError(f"end_s ({self.end_s}) must be greater than coast_s ({self.coast_s})")
        return self

    def speed_for(self, subject_class: str) -> float:
        """The most a thing of this class moves in a second (m/s).

        >>> WorldConfig().speed_for("person"), WorldConfig().speed_for("yak")
        (8.0, 60.0)
        """
        return self.max_speed_m_s.get(subject_class, self.max_speed_m_s["default"])

    def fusable(self, a: str, b: str) -> bool:
        """Whether things of classes a and b may be the same thing.

        >>> c = WorldConfig()
        >>> c.fusable("person", "car"), c.fusable("truck", "car"), c.fusable("unknown", "drone"), c.fusable("y", "y")
        (False, True, True, True)
        """
        if a == b or a in WILDCARD_CLASSES or b in WILDCARD_CLASSES:
            return True
        return b in self.compatible.get(a, ()) or a in self.compatible.get(b, ())
