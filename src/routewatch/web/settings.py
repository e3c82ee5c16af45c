"""Web settings: sessions, cookies, limits, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from routewatch.config.schema import AlertsConfig, EngineConfig, WebConfig
from routewatch.web.limits import LoginLimits

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, tz-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """Settings of the web API (sessions are kept in the database: restarts and other workers keep them)."""

    session_ttl_s: float = 12 * 3600.0
    cookie_secure: bool = False
    max_upload_bytes: int = 5 * 1024 * 1024  # corridor imports and edits, backtest requests
    max_body_bytes: int = 64 * 1024  # every other request body (logins, acks, users, tokens)
    trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For/-Proto are believed
    password_checks: int = 2  # Argon2 checks at once (64 MiB each); more are refused at once with 503
    max_page: int = 500
    live_poll_s: float = 0.2
    live_keepalive_s: float = 15.0
    max_track_points: int = 5000
    tiles_url: str | None = None
    mbtiles: Path | None = None
    borders_file: Path | None = None
    max_borders_bytes: int = 20 * 1024 * 1024
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    engine: EngineConfig = field(default_factory=EngineConfig)  # the rules, for backtests
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    recordings_dir: Path | None = None  # recording.dir: segment files served by the replay API
    max_replay_positions: int = 100_000
    # Web export jobs' files: on the recordings' disk by default (not /tmp, often small or in RAM), in a
    # directory no camera's retention sweep walks; kept under a byte budget, and never below a free-space floor
    # (live.py sets it to recording.resume_free_bytes, so an export cannot stop the recorders).
    exports_dir: Path | None = None  # None: <recordings_dir>/.exports
    exports_max_bytes: int = 20 * 1000**3
    exports_min_free_bytes: int = 2 * 1000**3



def login_limits(web: WebConfig) -> LoginLimits:
    """The login limiter's settings from the config file's `web` section."""
    return LoginLimits(
        per_user=web.login_max_failures_per_user, per_address=web.login_max_failures_per_address,
        window_s=web.login_window_s, lockout_s=web.login_lockout_s, max_lockout_s=web.login_max_lockout_s,
        max_entries=web.login_limiter_entries,
    )
