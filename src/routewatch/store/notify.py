"""Corridor changes between processes: PostgreSQL LISTEN/NOTIFY (poll store.corridors.revision() elsewhere).

`CorridorRepository.save` sends, in its own transaction, a JSON array of the changed corridor ids on
the channel `routewatch_corridors`; the payload `null` means "reload everything" (too many ids
for one notification, or a listener that lost its connection and may have missed some).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
from collections.abc import Collection
from time import monotonic
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy import Executable, func
from sqlalchemy import select as sql_select

from routewatch.store.db import make_engine
from routewatch.store.errors import StoreError, UnsupportedDatabaseError

if TYPE_CHECKING:
    import psycopg

CHANNEL = "routewatch_corridors"
RESYNC = "null"
_MAX_PAYLOAD = 7999  # bytes; PostgreSQL refuses longer notifications


def notify_payload(ids: Collection[str]) -> str:
    """The notification text for changed corridor ids: a sorted JSON array, or `null` if too long."""
    payload = json.dumps(sorted(ids), separators=(",", ":"))
    return payload if len(payload.encode("utf-8")) <= _MAX_PAYLOAD else RESYNC


def notify_statement(ids: Collection[str]) -> Executable:
    """`SELECT pg_notify('routewatch_corridors', :payload)`, delivered when the transaction commits."""
    return sql_select(func.pg_notify(CHANNEL, notify_payload(ids)))


class CorridorListener:
    """A dedicated PostgreSQL connection LISTENing for corridor changes; `wait` blocks (use a thread)."""

    def __init__(self, url: str, *, connect_timeout_s: float = 10.0) -> None:
        engine = make_engine(url)
        try:
            if engine.dialect.name != "postgresql":
                raise UnsupportedDatabaseError(
                    f"LISTEN/NOTIFY needs PostgreSQL, not {engine.dialect.name}; poll Store.corridors_revision()"
                )
            args, params = engine.dialect.create_connect_args(engine.url)
            where = engine.url.render_as_string(hide_password=True)
        finally:
            engine.dispose()
        import psycopg as driver  # the [postgres] extra; only listeners need it directly

        self._psycopg = driver
        params.pop("context", None)  # SQLAlchemy's adapters, not a connection parameter
        params.setdefault("connect_timeout", max(1, round(connect_timeout_s)))
        # Keepalives notice a dead server or link on an otherwise silent connection.
        params.setdefault("keepalives", 1)
        params.setdefault("keepalives_idle", 30)
        self._args, self._params = list(args), params
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        try:
            self._connect()
        except driver.OperationalError as exc:
            self._wake_r.close()
            self._wake_w.close()
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot listen for corridor changes on {where}: {first_line}") from None

    def _connect(self) -> None:
        driver = self._psycopg
        conn = driver.connect(*self._args, autocommit=True, **self._params)
        try:
            conn.execute(driver.sql.SQL("LISTEN {}").format(driver.sql.Identifier(CHANNEL)))
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _sleep(self, seconds: float) -> None:
        select.select([self._wake_r], [], [], max(0.0, seconds))

    def wait(self, timeout_s: float) -> list[str] | None:
        """Payloads received (waiting up to timeout_s for the first); [] on timeout; None once closed.

        After a lost connection the listener reconnects and reports `null` (reload everything).
        """
        deadline = monotonic() + timeout_s
        with self._lock:
            if self._closed.is_set():
                return None
            if self._conn is None:
                payloads = self._reconnect(deadline)
            else:
                try:
                    payloads = self._receive(self._conn, deadline)
                except self._psycopg.OperationalError:
                    self._drop()
                    payloads = self._reconnect(deadline)
            return None if self._closed.is_set() else payloads

    def _receive(self, conn: psycopg.Connection[tuple[object, ...]], deadline: float) -> list[str]:
        while True:
            payloads = [n.payload for n in conn.notifies(timeout=0)]
            remaining = deadline - monotonic()
            if payloads or remaining <= 0:
                return payloads
            ready, _, _ = select.select([conn.fileno(), self._wake_r.fileno()], [], [], remaining)
            if not ready or self._closed.is_set():
                return []

    def _reconnect(self, deadline: float) -> list[str]:
        try:
            self._connect()
        except self._psycopg.OperationalError:
            self._sleep(deadline - monotonic())
            return []
        return [RESYNC]

    def close(self) -> None:
        """Stop listening and close the connection; a wait() in another thread returns None."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        with self._lock:
            self._drop()
            self._wake_r.close()
            self._wake_w.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
