"""Users and tokens, corridor edits, basemap, health, status and export jobs."""

from __future__ import annotations

from typing import Literal

from pydantic import JsonValue

from routewatch.web.schemas.base import Out, Time
from routewatch.web.schemas.geojson import CorridorFeature


class Me(Out):
    """Who the caller is and what they may do."""

    name: str
    role: str
    via: str
    permissions: list[str]


class UserOut(Out):
    """A user."""

    username: str
    role: str
    created_at: Time
    disabled: bool


class ApiTokenOut(Out):
    """An API token's metadata."""

    id: int
    name: str
    role: str
    created_at: Time
    revoked: bool


class NewApiToken(ApiTokenOut):
    """A new API token: `token` is in this answer only."""

    token: str


class AuditEntryOut(Out):
    """An audit log entry."""

    id: int
    time: Time
    actor: str
    action: str
    target: str
    detail: str


class CorridorVersionOut(Out):
    """One corridor version's audit fields."""

    version: int
    author: str
    comment: str
    created_at: Time
    deleted: bool


class VersionFeature(CorridorFeature):
    """One stored corridor version as a GeoJSON Feature, its audit fields in `meta`."""

    meta: CorridorVersionOut


class SavedVersion(Out):
    """A corridor saved by an import."""

    id: str
    version: int


class CorridorImport(Out):
    """What an import saved."""

    filename: str
    imported: list[SavedVersion]


class CorridorDeleted(Out):
    """A deleted corridor: its tombstone version."""

    id: str
    version: int
    deleted: bool


class Basemap(Out):
    """Which basemap the map draws: a tile URL or none, and borders."""

    source: Literal["mbtiles", "url", "none"]
    tiles_url: str | None
    borders_url: str | None


class Health(Out):
    """Liveness and database reachability."""

    status: str
    database: str


class PipelineStatus(Out):
    """What the pipeline took in and lost."""

    pipeline: dict[str, float]
    cameras: dict[str, dict[str, int]]
    mavlink: dict[str, dict[str, JsonValue]]
    mqtt_publishers: dict[str, dict[str, int]]


class ExportJob(Out):
    """An export job's state and progress."""

    id: str
    kind: Literal["alert", "range"]
    state: Literal["queued", "running", "done", "failed"]
    file_name: str
    created_at: Time
    ended_at: Time | None
    frames_done: int
    frames_total: int
    note: str
    error: str
    size_bytes: int
    download_url: str | None
