"""Typed, bounded, documented settings: one model per component section."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from routewatch.model import Severity

MAVLINK_SCHEMES = ("udpin", "udpout", "udp", "tcp", "tcpin", "serial", "file")
_HOST_PORT = re.compile(r"^(?P<host>[^:\s/]+):(?P<port>\d{1,5})$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Section):
    """One telemetry source."""

    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
        description="Short unique name; prefixes subject ids and counters.",
    )
    kind: Literal["mavlink"] = Field("mavlink", description="Adapter that reads this source.")
    url: str = Field(
        description=(
            "MAVLink connection: udpin:HOST:PORT, udpout:HOST:PORT, tcp:HOST:PORT, "
            "serial:/dev/ttyX[:BAUD], or file:PATH.tlog (a bare path ending .tlog also works)."
        )
    )
    realtime: bool = Field(False, description="Replay a .tlog at recorded speed instead of as fast as possible.")
    speed: float = Field(1.0, gt=0, le=1000, description="Replay speed factor when realtime is on.")
    reconnect_s: float = Field(2.0, gt=0, le=300, description="First delay before reconnecting a dropped link.")
    reconnect_max_s: float = Field(30.0, gt=0, le=3600, description="Longest delay between reconnect attempts.")
    link_timeout_s: float = Field(5.0, gt=0, le=600, description="No message for this long marks the link down.")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if v.endswith(".tlog") and ":" not in v.split("/")[0]:
            return v
        scheme, _, rest = v.partition(":")
        if scheme not in MAVLINK_SCHEMES or not _:
            raise ValueError(f"unsupported scheme {scheme!r} (use one of {', '.join(MAVLINK_SCHEMES)})")
        if scheme in ("udpin", "udpout", "udp", "tcp", "tcpin"):
            m = _HOST_PORT.match(rest)
            if m is None or not 0 < int(m["port"]) < 65536:
                raise ValueError(f"{scheme}: needs HOST:PORT with a port 1-65535, got {rest!r}")
        elif scheme == "serial":
            dev, _, baud = rest.partition(":")
            if not dev or (baud and not (baud.isdigit() and 50 <= int(baud) <= 10_000_000)):
                raise ValueError(f"serial: needs DEVICE[:BAUD], got {rest!r}")
        elif not rest:
            raise ValueError("file: needs a path")
        return v


class CorridorsConfig(_Section):
    """Where corridor geofences come from."""

    file: Path | None = Field(None, description="GeoJSON or KML file of corridors; empty means none.")


class EngineConfig(_Section):
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
        bad = {k: s for k, s in v.items() if not (0 < s <= 2000)}
        if bad:
            raise ValueError(f"speeds must be in (0, 2000] m/s: {bad}")
        return {"default": 90.0, **v}

    cell_m: float = Field(
        200.0, gt=1, le=100000,
        description="Grid cell size of the corridor index; about the width of typical corridors is best.",
    )


class AlertsConfig(_Section):
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


class StoreConfig(_Section):
    """Database settings."""

    url: str = Field("sqlite:///routewatch.db", description="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://...")
    positions: bool = Field(True, description="Store every accepted position (track history for replay).")
    flush_every: int = Field(500, ge=1, le=100000, description="Write buffered rows after this many observations.")
    flush_s: float = Field(1.0, gt=0, le=60, description="Write buffered rows at least this often (wall time).")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("unsupported database URL; use sqlite:///FILE or postgresql+psycopg://...")
        return v


class LoggingConfig(_Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")


class Settings(_Section):
    """The whole configuration file."""

    sources: list[SourceConfig] = Field(default_factory=list, description="Telemetry sources.")
    corridors: CorridorsConfig = Field(default_factory=CorridorsConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @field_validator("sources")
    @classmethod
    def _unique(cls, v: list[SourceConfig]) -> list[SourceConfig]:
        names = [s.name for s in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate source name(s) {dup}")
        return v
