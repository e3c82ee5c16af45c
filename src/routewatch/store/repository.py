"""The Store: the application's one door to the database (synchronous; call from a worker thread)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from routewatch.config.schema import StoreConfig
from routewatch.model import (
    Alert,
    AlertChange,
    AlertKind,
    AlertState,
    Change,
    Corridor,
    DeadLetter,
    Observation,
)
from routewatch.store import corridorfile as corridor_file
from routewatch.store import corridors as corridor_versions
from routewatch.store import migrate, notify, sqliteschema, writes
from routewatch.store.coltypes import to_micros
from routewatch.store.convert import alert_json, row_to_alert, row_to_observation
from routewatch.store.coverage import CoverageMixin
from routewatch.store.db import WRITE, make_engine
from routewatch.store.errors import AmbiguousAlertIdError, CorridorConflictError, StoreError, UnknownAlertError
from routewatch.store.geoquery import SpatialMixin
from routewatch.store.outbox import OutboxMixin
from routewatch.store.recordings import RecordingsMixin
from routewatch.store.records import AlertEvent, CorridorVersion, RunRecord
from routewatch.store.positions import RecoveryMixin
from routewatch.store.sessions import SessionsMixin
from routewatch.store.snapshots import SnapshotsMixin
from routewatch.store.tables import AlertEventRow, AlertRow, CorridorRow, PositionRow, RunRow
from routewatch.store.users import UsersMixin
from routewatch.store.webextra import WebExtraMixin

_T = TypeVar("_T")
MIN_ID_PREFIX = 4  # as git: shorter prefixes match too much to be meant


class Store(OutboxMixin, SpatialMixin, RecoveryMixin, UsersMixin, SessionsMixin, WebExtraMixin, SnapshotsMixin,
            RecordingsMixin, CoverageMixin):
    """Alerts, their events (the outbox), positions, dead letters, corridor versions and runs in one database."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, echo=echo)
        self._writer = self.engine.execution_options(**WRITE)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._writer, expire_on_commit=False)
        self._postgis: bool | None = None

    @classmethod
    def from_config(cls, config: StoreConfig) -> Store:
        """A store for the `store` section of the settings."""
        return cls(config.url)

    def upgrade(self, revision: str = "head", *, postgis: bool = True) -> None:
        """Create or migrate the schema to `revision` (idempotent); `postgis`: add geometry where possible."""
        self._postgis = None
        try:
            if revision == "head" and (migrate.at_head(self.engine) or sqliteschema.create_fresh(self.engine)):
                return
            migrate.upgrade(self.engine, revision, postgis=postgis)
        except SQLAlchemyError as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(f"cannot open database {where}: {getattr(exc, 'orig', None) or exc}") from None

    def close(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._write() as session, session.begin():
            yield session

    # -- alerts and positions ------------------------------------------------------------

    def write(
        self,
        changes: Sequence[AlertChange],
        observations: Sequence[Observation],
        dead_letters: Sequence[DeadLetter] = (),
    ) -> None:
        """Store alert changes (outbox entries), positions and dead letters in one transaction, idempotently."""
        if not changes and not observations and not dead_letters:
            return
        try:
            with self._writer.begin() as conn:
                acked = writes.acknowledged_ids(conn, [c.alert.id for c in changes]) if changes else set()
                writes.upsert_alerts(conn, writes.newest_alerts(changes))
                writes.insert_change_events(conn, changes, acked)
                writes.insert_positions(conn, observations)
                writes.insert_dead_letters(conn, dead_letters)
        except StatementError as exc:
            if isinstance(exc.orig, ValueError):  # a bad value (e.g. a naive time): nothing written
                raise ValueError(str(exc.orig)) from exc
            raise

    def list_alerts(
        self,
        *,
        kind: AlertKind | None = None,
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
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be >= 0 (got limit={limit}, offset={offset})")
        query = select(AlertRow)
        if kind is not None:
            query = query.where(AlertRow.kind == AlertKind(kind).value)
        if corridor_id is not None:
            query = query.where(AlertRow.corridor_id == corridor_id)
        if subject_id is not None:
            query = query.where(AlertRow.subject_id == subject_id)
        if state is not None:
            query = query.where(AlertRow.state == AlertState(state).value)
        if since is not None:
            query = query.where(AlertRow.opened_at >= since)
        if until is not None:
            query = query.where(AlertRow.opened_at < until)
        query = query.order_by(AlertRow.opened_at, AlertRow.id)
        if within is not None:
            return self._alerts_within(query, within, limit=limit, offset=offset)
        query = query.limit(limit).offset(offset)
        with self._read() as session:
            return [row_to_alert(row) for row in session.scalars(query)]

    def get_alert(self, alert_id: str) -> Alert | None:
        """The alert with this id, or None."""
        with self._read() as session:
            row = session.get(AlertRow, alert_id)
            return row_to_alert(row) if row is not None else None

    def resolve_alert_id(self, prefix: str) -> str:
        """The id of the one stored alert that is `prefix` or starts with it (as git takes short hashes).

        Raises UnknownAlertError when none matches (or the prefix is shorter than MIN_ID_PREFIX),
        AmbiguousAlertIdError naming the candidates when several do.
        """
        with self._read() as session:
            if session.get(AlertRow, prefix) is not None:
                return prefix
            if len(prefix) < MIN_ID_PREFIX:
                raise UnknownAlertError(prefix)
            query = select(AlertRow.id).where(AlertRow.id.startswith(prefix, autoescape=True))
            ids = list(session.scalars(query.order_by(AlertRow.id).limit(11)))
        if not ids:
            raise UnknownAlertError(prefix)
        if len(ids) > 1:
            raise AmbiguousAlertIdError(prefix, ids)
        return ids[0]

    def count_alerts(self) -> dict[str, int]:
        """Number of stored alerts by kind (every known kind present, zero when none)."""
        counts = {kind.value: 0 for kind in AlertKind}
        with self._read() as session:
            for kind, count in session.execute(
                select(AlertRow.kind, func.count()).group_by(AlertRow.kind).order_by(AlertRow.kind)
            ):
                counts[kind] = count
        return counts

    def acknowledge(self, alert_id: str, *, by: str, comment: str, time: datetime) -> Alert:
        """Mark an alert acknowledged by a person and record who, why and when.

        A closed alert stays closed (the acknowledgement is still recorded as an event).
        Raises UnknownAlertError (a KeyError) when no such alert is stored.
        """
        if not by.strip():
            raise ValueError("acknowledge needs the name of who acknowledged (by=...)")
        to_micros(time)
        with self._transaction() as session:
            row = session.get(AlertRow, alert_id, with_for_update=True)
            if row is None:
                raise UnknownAlertError(alert_id)
            if row.state != AlertState.CLOSED.value:
                row.state = AlertState.ACKNOWLEDGED.value
            session.flush()
            event = {
                "alert_id": alert_id,
                "change": Change.ACKNOWLEDGED.value,
                "time": time,
                "state": row.state,
                "updates": row.updates,
                "actor": by,
                "comment": comment,
                "snapshot": alert_json(row_to_alert(row)),
            }
            writes.insert_events(session.connection(), [event])
            return row_to_alert(row)

    def alert_events(
        self, alert_id: str | None = None, *, after: int = 0, limit: int = 1000
    ) -> list[AlertEvent]:
        """Stored alert events with seq > `after` (of one alert, or all), in seq order."""
        e = AlertEventRow
        # Only these columns: not the snapshots, and readable before revision 0002 too.
        query = select(e.seq, e.alert_id, e.change, e.time, e.state, e.updates, e.actor, e.comment)
        query = query.where(e.seq > after)
        if alert_id is not None:
            query = query.where(e.alert_id == alert_id)
        query = query.order_by(e.seq).limit(limit)
        with self.engine.connect() as conn:
            return [
                AlertEvent(
                    seq=row.seq,
                    alert_id=row.alert_id,
                    change=Change(row.change),
                    time=row.time,
                    state=AlertState(row.state),
                    updates=row.updates,
                    actor=row.actor,
                    comment=row.comment,
                )
                for row in conn.execute(query)
            ]

    def positions(
        self, subject_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[Observation]:
        """Stored fixes of one subject with time in [since, until), oldest first."""
        query = select(*PositionRow.__table__.columns).where(PositionRow.subject_id == subject_id)
        if since is not None:
            query = query.where(PositionRow.time >= since)
        if until is not None:
            query = query.where(PositionRow.time < until)
        with self.engine.connect() as conn:
            return [row_to_observation(row) for row in conn.execute(query.order_by(PositionRow.time))]

    def count_positions(self) -> int:
        """Number of stored positions."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(PositionRow)) or 0)

    def prune_positions(self, before: datetime) -> int:
        """Delete positions older than `before` (retention); return how many were deleted."""
        with self._writer.begin() as conn:
            result = conn.execute(delete(PositionRow).where(PositionRow.time < before))
            return int(result.rowcount)

    # -- corridors -----------------------------------------------------------------------

    def save_corridors(
        self,
        corridors: Sequence[Corridor],
        *,
        author: str,
        comment: str,
        at: datetime,
        replace: bool = True,
        expect_removed: int | None = None,
    ) -> tuple[Corridor, ...]:
        """Save a corridor set; return it with versions (unchanged content keeps its version).

        Changed or new corridors get the next version of their id; with `replace`, stored ids
        missing from the set get a deleted tombstone version, and with `expect_removed` that
        must be how many, or RemovalNotConfirmedError lists them and nothing is saved.
        The given versions are ignored. On PostgreSQL the changed ids are sent to
        CorridorListeners when the save commits.
        """
        return self._corridor_change(lambda session: corridor_versions.save(
            session, corridors, author=author, comment=comment, at=at, replace=replace,
            expect_removed=expect_removed))

    def import_corridor_file(
        self, key: str, sha256: str, corridors: Sequence[Corridor], *, author: str, comment: str, at: datetime,
        file_wins: bool = False,
    ) -> corridor_file.FileImport:
        """Import a corridor file (by path `key`) if its content changed since its last import; see corridorfile."""
        return self._corridor_change(lambda session: corridor_file.import_file(
            session, key, sha256, corridors, author=author, comment=comment, at=at, file_wins=file_wins))

    def _corridor_change(self, change: Callable[[Session], _T]) -> _T:
        """Run a corridor change in one transaction and tell the listeners what changed."""
        try:
            with self._transaction() as session:
                result = change(session)
                changed = corridor_versions.changed_ids(session)
                if changed and self.engine.dialect.name == "postgresql":
                    session.execute(notify.notify_statement(changed))
                return result
        except IntegrityError as exc:
            raise CorridorConflictError(
                "another save changed the same corridors at the same time; reload and retry"
            ) from exc

    def corridors_revision(self) -> int:
        """A number that grows with every saved corridor change (poll it where LISTEN/NOTIFY is missing)."""
        with self.engine.connect() as conn:
            # Corridor rows are only ever added (versions and tombstones), so the count is a revision.
            return int(conn.scalar(select(func.count()).select_from(CorridorRow)) or 0)

    def current_corridors(self) -> tuple[Corridor, ...]:
        """The newest non-deleted version of every corridor, ordered by id."""
        with self._read() as session:
            return corridor_versions.current(session)

    def corridor_history(self, corridor_id: str) -> list[CorridorVersion]:
        """All versions of one corridor, oldest first, tombstones included."""
        with self._read() as session:
            return corridor_versions.history(session, corridor_id)

    # -- runs ----------------------------------------------------------------------------

    def record_run(
        self,
        *,
        command: str,
        inputs: Sequence[str],
        counters: Mapping[str, Any],
        started_at: datetime,
        finished_at: datetime | None = None,
    ) -> int:
        """Record one analyze/run invocation; return its id."""
        row = RunRow(
            command=command,
            started_at=started_at,
            finished_at=finished_at,
            inputs=list(inputs),
            counters=dict(counters),
        )
        with self._transaction() as session:
            session.add(row)
            session.flush()
            return row.id

    def runs(self, limit: int = 100) -> list[RunRecord]:
        """Recorded runs, newest first."""
        query = select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(limit)
        with self._read() as session:
            return [
                RunRecord(
                    id=row.id,
                    command=row.command,
                    started_at=row.started_at,
                    finished_at=row.finished_at,
                    inputs=tuple(row.inputs),
                    counters=dict(row.counters),
                )
                for row in session.scalars(query)
            ]


def open_store(url: str) -> Store:
    """A store with its schema migrated to the latest version."""
    store = Store(url)
    store.upgrade()
    return store
