"""Web settings and the Store interface the web layer needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from routewatch.store import Store

WebStore = Store


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, tz-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """Settings of the web API; `secret_key` signs session cookies (random per process when None)."""

    secret_key: bytes | None = None
    session_ttl_s: float = 12 * 3600.0
    cookie_secure: bool = False
    max_upload_bytes: int = 5 * 1024 * 1024
    max_page: int = 500
    live_poll_s: float = 0.2
    live_keepalive_s: float = 15.0
    max_track_points: int = 5000
    tiles_url: str | None = None
    mbtiles: Path | None = None
    borders_file: Path | None = None
    max_borders_bytes: int = 20 * 1024 * 1024

