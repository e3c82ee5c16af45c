"""What the web layer uses of each store repository: one narrow Protocol per repository.

The routes take these (through the `...Dep` aliases of `web.deps`), never the whole Store; the signatures
are the store repositories' own, cut down to the methods the routes and the auth middleware call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from shapely.geometry.base import BaseGeometry

from routewatch.geo.footprint import Footprint
from routewatch.model import Alert, AlertState, Corridor, EventKind, Observation, Role
from routewatch.store.recordings import RecordedSegment, RecordingExtent
from routewatch.store.records import AlertEvent, CorridorVersion
from routewatch.store.snapshots import Snapshot
from routewatch.store.users import ApiToken, AuditEntry, User, UserRole

__all__ = [
    "AlertCounts", "AlertReads", "AlertRepo", "AuditRepo", "CorridorRepo", "CoverageRepo", "PositionRepo",
    "RecordingRepo", "SessionRepo", "SnapshotRepo", "UserRepo",
]


class AlertReads(Protocol):
    """The alerts the routes look up (store.alerts)."""

    def find(
        self,
        *,
        kind: EventKind | None = None,
        corridor_id: str | None = None,
        subject_id: str | None = None,
        state: AlertState | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
        within: BaseGeometry | None = None,
    ) -> list[Alert]:
        """Alerts matching all filters, opened in [since, until), inside `within` (lon/lat), by (opened_at, id)."""

    def get(self, alert_id: str) -> Alert | None:
        """The alert with this id, or None."""


class AlertRepo(AlertReads, Protocol):
    """The alerts the alert routes read and acknowledge (store.alerts)."""

    def events(self, alert_id: str | None = None, *, after: int = 0, limit: int = 1000) -> list[AlertEvent]:
        """Stored alert events with seq > `after` (of one alert, or all), in seq order."""

    def acknowledge(self, alert_id: str, *, by: str, comment: str, time: datetime) -> Alert:
        """Mark an alert acknowledged by a person and record who, why and when."""

    def latest_event_seq(self) -> int:
        """The highest alert event seq stored (0 when none)."""


class AlertCounts(Protocol):
    """The alert counts the metrics report (store.alerts)."""

    def count_by_kind(self) -> dict[str, int]:
        """Number of stored alerts by kind (every known kind present, zero when none)."""


class SnapshotRepo(Protocol):
    """The alerts' snapshots (store.snapshots)."""

    def get(self, alert_id: str, camera: str | None = None) -> Snapshot | None:
        """The snapshot of an alert from `camera` (None: its first), or None."""

    def cameras_of(self, alert_ids: Sequence[str]) -> dict[str, list[str]]:
        """For each id among `alert_ids` with snapshots, its cameras, first stored first."""

    def alert_ids_with(self, alert_ids: Sequence[str]) -> set[str]:
        """The ids among `alert_ids` whose alert row references a snapshot."""


class PositionRepo(Protocol):
    """The stored fixes (store.positions)."""

    def of_subject(
        self, subject_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[Observation]:
        """Stored fixes of one subject with time in [since, until), oldest first."""

    def between(
        self, since: datetime, until: datetime, *, bbox: tuple[float, float, float, float] | None = None,
        subject: str | None = None, role: Role | None = None, limit: int | None = None,
    ) -> list[Observation]:
        """Stored fixes with time in [since, until), by (time, subject); at most `limit` (the oldest)."""

    def stream(self, since: datetime, until: datetime, batch: int = 20_000,
               part: tuple[int, int] | None = None) -> Iterator[list[Observation]]:
        """Stored fixes with since <= time < until in event-time order (then by subject), in batches."""


class CorridorRepo(Protocol):
    """The corridor versions (store.corridors)."""

    def current(self) -> tuple[Corridor, ...]:
        """The newest non-deleted version of every corridor, ordered by id."""

    def save(
        self,
        corridors: Sequence[Corridor],
        *,
        author: str,
        comment: str,
        at: datetime,
        replace: bool = True,
        expect_removed: int | None = None,
    ) -> tuple[Corridor, ...]:
        """Save a corridor set; return it with versions (unchanged content keeps its version)."""

    def delete(self, corridor_id: str, *, author: str, comment: str, at: datetime) -> int | None:
        """Add a deleted tombstone version of one corridor; its version, or None if it is not current."""

    def history(self, corridor_id: str) -> list[CorridorVersion]:
        """All versions of one corridor, oldest first, tombstones included."""

    def versions(self) -> list[tuple[Corridor, datetime, bool]]:
        """Every stored corridor version: (corridor, saved at, deleted), by id and version."""


class RecordingRepo(Protocol):
    """The recorded segments (store.recordings)."""

    def cameras(self) -> list[str]:
        """Cameras with stored segments."""

    def segments(self, camera: str, since: datetime | None = None, until: datetime | None = None, *,
                 blobs: bool = False) -> list[RecordedSegment]:
        """A camera's segments overlapping [since, until] (event time), oldest first; `blobs`: with times and boxes."""

    def extents(self, since: datetime | None = None, until: datetime | None = None) -> list[RecordingExtent]:
        """Each recorded camera's extent (of its segments overlapping [since, until] when given), by camera."""

    def spans(self, since: datetime, until: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        """Each camera's segments overlapping [since, until] as (first frame, last frame), oldest first."""


class CoverageRepo(Protocol):
    """The camera footprints (store.coverage)."""

    def footprints_between(self, start: datetime, end: datetime, *, limit: int | None = None,
                           camera: str | None = None) -> list[Footprint]:
        """Footprints overlapping [start, end) (of one camera, or all), by (start, camera); at most `limit`."""

    def footprint_cameras(self) -> list[str]:
        """Cameras with stored footprints, by name."""


class UserRepo(Protocol):
    """The users and API tokens (store.users)."""

    def all(self) -> list[User]:
        """All users by name."""

    def get(self, username: str) -> User | None:
        """The user with this name, or None."""

    def add(self, username: str, password: str, role: UserRole | str, *, at: datetime) -> User:
        """Create a user with an argon2 password hash; StoreError if the name is taken."""

    def check_password(self, username: str, password: str) -> User | None:
        """The enabled user when the password is right, else None (rehashes outdated hashes)."""

    def api_tokens(self) -> list[ApiToken]:
        """All API tokens (revoked included), oldest first."""

    def api_token(self, token: str) -> ApiToken | None:
        """The unrevoked token matching this secret, or None."""

    def add_api_token(self, name: str, role: UserRole | str, *, at: datetime) -> tuple[ApiToken, str]:
        """Create an API token; return its metadata and the token (shown once, only its hash is kept)."""

    def revoke_api_token(self, token_id: int) -> bool:
        """Revoke a token by id; False when there is no such token."""


class SessionRepo(Protocol):
    """The login sessions and the changes that end them (store.sessions)."""

    def start(self, username: str, *, at: datetime, ttl_s: float) -> str:
        """A new session for `username` until `at` + `ttl_s`; its token (the cookie's value, stored only hashed)."""

    def user(self, token: str, *, at: datetime) -> User | None:
        """The enabled user of an unexpired session, or None."""

    def end(self, token: str) -> None:
        """Log one session out (nothing when there is none)."""

    def set_password(self, username: str, password: str) -> bool:
        """Change a password and end the user's sessions; False when there is no such user."""

    def set_role(self, username: str, role: UserRole | str) -> bool:
        """Change a user's role and end their sessions; False when there is no such user."""

    def set_disabled(self, username: str, disabled: bool) -> bool:
        """Disable (ending the user's sessions) or enable a user; False when there is no such user."""

    def remove_user(self, username: str) -> bool:
        """Remove a user and their sessions; False when there is no such user."""


class AuditRepo(Protocol):
    """The audit log (store.audit)."""

    def add(self, action: str, *, actor: str, target: str = "", detail: str = "", at: datetime) -> None:
        """Append one entry to the audit log."""

    def entries(self, *, limit: int = 100, after: int = 0, **where: Any) -> list[AuditEntry]:
        """Audit entries with id > `after`, oldest first; `where` filters on actor/action/target."""
