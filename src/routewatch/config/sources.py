"""Telemetry sources: MAVLink links and tlog files."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from routewatch.config.base import Section

MAVLINK_SCHEMES = ("udpin", "udpout", "udp", "tcp", "tcpin", "serial", "file")
_HOST_PORT = re.compile(r"^(?P<host>[^:\s/]+):(?P<port>\d{1,5})$")


class SourceConfig(Section):
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
    time_source: Literal["receipt", "vehicle"] = Field(
        "receipt",
        description="Live links: event time of a vehicle's messages. receipt: this machine's clock when they "
        "arrive (a replay faster than real time squeezes time, and rules on time see other motion); vehicle: "
        "the vehicle's own clock (SYSTEM_TIME's GPS time plus each message's time_boot_ms), the same at any "
        "replay speed; its messages before the first SYSTEM_TIME with a time are dropped (counted).",
    )
    gps_uere_m: float = Field(
        4.0, gt=0, le=100,
        description="User equivalent range error of the vehicles' GPS (one sigma, metres): a position's accuracy_m "
        "is HDOP (GPS_RAW_INT.eph / 100) times this, unless GPS_RAW_INT carries h_acc (then h_acc itself).",
    )
    recv_buffer_bytes: int = Field(
        4 * 1024 * 1024, ge=65536, le=256 * 1024 * 1024,
        description="UDP links: the socket's receive buffer, which holds bursts while the reader is busy. Linux "
        "grants at most net.core.rmem_max (a warning says so); datagrams dropped for want of room are counted "
        "as kernel drops.",
    )

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
