"""The corridor set, the rules engine and the alert lifecycle."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from routewatch.config.base import Section, speeds_by_class
from routewatch.model import Severity


class CorridorsConfig(Section):
    """Where corridor geofences come from."""

    file: Path | None = Field(
        None,
        description="GeoJSON or KML file seeding the stored corridors at `run` start: imported only when its "
        "content changed since its last import, and never over corridors created, changed or deleted in the "
        "database since then. Empty means none.",
    )
    file_wins: bool = Field(
        False,
        description="Make the stored set equal to corridors.file at every start, reverting and deleting what "
        "planners changed in the database.",
    )


class EngineConfig(Section):
    """Corridor rule parameters (defaults; a corridor's own properties win)."""

    hysteresis_m: float = Field(
        5.0, ge=0, le=1000,
        description="A subject inside must get this far outside the boundary to count as out.",
    )
    confirm_fixes: int = Field(2, ge=1, le=100, description="Fixes a changed side must persist before it counts.")
    confirm_s: float = Field(
        1.0, ge=0, le=3600,
        description="Seconds a changed side must persist (with confirm_fixes) before it counts.",
    )
    min_dwell_s: float = Field(60.0, gt=0, le=86400, description="Default time inside before a dwell alert.")
    min_progress_m: float = Field(
        50.0, gt=0, le=100000, description="Default progress along a corridor before an along alert."
    )
    along_window_s: float = Field(120.0, gt=0, le=3600, description="Window over which along-progress is measured.")
    along_tolerance_deg: float = Field(
        45.0, gt=0, le=90, description="Heading must be within this of the corridor's local bearing."
    )
    min_displacement_m: float = Field(
        5.0, ge=0, le=1000, description="Movement below this is treated as GPS noise (no heading, no direction)."
    )
    max_gap_s: float = Field(
        60.0, gt=0, le=86400, description="A longer gap between fixes resets dwell and along measurements."
    )
    max_speed_m_s: dict[str, float] = Field(
        default_factory=lambda: {"aircraft": 400.0, "drone": 120.0, "default": 90.0},
        description="By subject class ('default' for the rest): faster implied jumps are dropped as outliers.",
    )
    cross_max_gap_s: float = Field(
        900.0, gt=0, le=86400,
        description="Line crossings are interpolated between fixes at most this far apart; beyond, nothing is known.",
    )
    stale_s: float = Field(
        300.0, gt=0, le=86400,
        description="A fix older than the newest event time seen by more than this is dropped as stale.",
    )
    @field_validator("max_speed_m_s")
    @classmethod
    def _speeds(cls, v: dict[str, float]) -> dict[str, float]:
        return speeds_by_class(v, 90.0)

    cell_m: float = Field(
        200.0, gt=1, le=100000,
        description="Grid cell size of the corridor index; about the width of typical corridors is best.",
    )


class AlertsConfig(Section):
    """Alert lifecycle settings."""

    cooldown_s: float = Field(
        60.0, ge=0, le=86400,
        description=(
            "An alert closes only after its condition has stayed ended this long; if it returns meanwhile, "
            "the same alert goes on (and a closed alert reopens)."
        ),
    )
    close_after_s: float = Field(
        300.0, gt=0, le=86400,
        description="Instant alerts (cross, exit) and alerts of silent subjects close after this much event time.",
    )
    kinds: frozenset[str] = Field(
        frozenset({"enter", "dwell", "along", "cross", "breach"}),
        description="Alert kinds that are raised; add 'exit' for an alert on every exit.",
    )
    severity: dict[str, Severity] = Field(
        default_factory=lambda: {
            "enter": Severity.MEDIUM, "exit": Severity.LOW, "dwell": Severity.HIGH,
            "along": Severity.HIGH, "cross": Severity.HIGH, "breach": Severity.MEDIUM,
        },
        description="Default severity by alert kind; a corridor's `severity` wins.",
    )

    @field_validator("severity", "kinds")
    @classmethod
    def _kinds(cls, v: dict[str, Severity] | frozenset[str]) -> dict[str, Severity] | frozenset[str]:
        known = {"enter", "exit", "dwell", "along", "cross", "breach"}
        bad = sorted(set(v) - known)
        if bad:
            raise ValueError(f"unknown alert kind(s) {bad}; known: {sorted(known)}")
        return v
