"""What the web layer takes besides its config section (`config.web.WebConfig`): a clock, the login limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from routewatch.config.web import WebConfig
from routewatch.web.limits import LoginLimits

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, tz-aware UTC."""
    return datetime.now(UTC)


def login_limits(web: WebConfig) -> LoginLimits:
    """The login limiter's settings from the config file's `web` section."""
    return LoginLimits(
        per_user=web.login_max_failures_per_user, per_address=web.login_max_failures_per_address,
        window_s=web.login_window_s, lockout_s=web.login_lockout_s, max_lockout_s=web.login_max_lockout_s,
        max_entries=web.login_limiter_entries,
    )
