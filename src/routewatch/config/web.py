"""The web API and UI."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from routewatch.config.base import Section


class WebConfig(Section):
    """The web API and the operator UI, served by `routewatch run` in the same process."""

    enabled: bool = Field(False, description="Serve the API on host:port while running.")
    host: str = Field("127.0.0.1", min_length=1, description="Address to listen on (0.0.0.0 for every interface).")
    port: int = Field(8080, ge=1, le=65535, description="TCP port.")
    secret_key: SecretStr | None = Field(
        None, description="Unused: sessions are kept in the database and survive restarts (accepted in old files)."
    )
    cookie_secure: bool = Field(
        False, description="Mark session cookies Secure always (they are anyway when served over TLS, or by a "
        "trusted proxy that says X-Forwarded-Proto: https).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, max_length=100,
        description="Reverse proxies (addresses or networks, e.g. 10.0.0.5 or 10.0.0.0/24) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; from anyone else they are ignored.",
    )
    password_checks: int = Field(
        2, ge=1, le=64,
        description="Password checks run at once (Argon2 takes 64 MiB each: their memory ceiling is this times "
        "64 MiB); logins beyond them get 503 at once.",
    )
    tiles_url: str | None = Field(
        None, description="Raster basemap tile URL template (https://host/{z}/{x}/{y}.png); none: no tiles needed."
    )
    mbtiles: Path | None = Field(None, description="A local MBTiles file (raster) served by routewatch as the basemap.")
    borders_file: Path | None = Field(
        None, description="A local GeoJSON of borders (e.g. Natural Earth boundary lines) drawn as a map layer."
    )
    login_max_failures_per_user: int = Field(
        5, ge=0, le=1000,
        description="Failed logins for one username from one address before that name's logins from that address "
        "are refused for a while (429); 0: no limit.",
    )
    login_max_failures_per_address: int = Field(
        20, ge=0, le=100_000,
        description="Failed logins from one client address before its logins are refused for a while; 0: no limit "
        "(behind a reverse proxy every client has the proxy's address).",
    )
    login_window_s: float = Field(
        900.0, gt=0, le=86_400,
        description="A username's or address's failures are forgotten after this long without one.",
    )
    login_lockout_s: float = Field(
        60.0, ge=1, le=86_400, description="First refusal period; each further failure doubles it."
    )
    login_max_lockout_s: float = Field(900.0, ge=1, le=86_400, description="Longest refusal period.")
    login_limiter_entries: int = Field(
        10_000, ge=100, le=1_000_000,
        description="Most usernames (and, separately, addresses) the login limiter remembers; quiet ones go first.",
    )
    session_ttl_s: float = Field(
        12 * 3600.0, gt=0, le=366 * 86_400,
        description="A login session lasts this long (sessions are kept in the database: restarts and other "
        "workers keep them).",
    )
    max_upload_bytes: int = Field(
        5 * 1024 * 1024, ge=1, le=1024**3,
        description="Largest request body of corridor imports and edits and of backtests (413 beyond).",
    )
    max_body_bytes: int = Field(
        64 * 1024, ge=1, le=1024**3,
        description="Largest body of every other request (logins, acknowledgements, users, tokens; 413 beyond).",
    )
    max_track_points: int = Field(
        5000, ge=2, le=10_000_000,
        description="An alert's track in the API is thinned evenly to at most this many fixes.",
    )
    max_replay_positions: int = Field(
        100_000, ge=1, le=100_000_000, description="Most positions one replay answer holds (it says truncated then)."
    )
    max_borders_bytes: int = Field(20 * 1024 * 1024, ge=1, le=1024**3, description="Largest borders_file served.")
    live_poll_s: float = Field(
        0.2, gt=0, le=60,
        description="The live stream reads new alert events from the database this often (and at once when the "
        "pipeline in this process stores some).",
    )
    live_keepalive_s: float = Field(
        15.0, gt=0, le=3600, description="A quiet live stream sends a keep-alive this often."
    )
    exports_dir: Path | None = Field(
        None, description="Where web export jobs keep their files; none: <recording.dir>/.exports (the recordings' "
        "disk, not a small /tmp, in a directory no camera's retention walks).",
    )
    exports_max_bytes: int = Field(
        20 * 1000**3, ge=0, le=10**18, description="Bytes that ended export jobs may keep; the oldest go first."
    )
    exports_min_free_bytes: int | None = Field(
        None, ge=0, le=10**18,
        description="An export fails rather than leave less disk free than this; none: recording.resume_free_bytes "
        "(so an export cannot stop the recorders).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return v

    @field_validator("login_max_lockout_s")
    @classmethod
    def _lockouts(cls, v: float, info: ValidationInfo) -> float:
        first = info.data.get("login_lockout_s")
        if first is not None and v < first:
            raise ValueError(f"must be at least login_lockout_s ({first})")
        return v
