"""Live alert stream (Server-Sent Events): the store's alert events, resumable by seq (Last-Event-ID)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from routewatch.model import Observation
from routewatch.store.records import AlertEvent
from routewatch.web.deps import HubDep, Reader
from routewatch.wire import observation_to_dict, sse_alert_data

router = APIRouter(prefix="/api", tags=["live"])
_BATCH = 500


def sse_message(event: AlertEvent, message: str) -> str:
    """One SSE message: `id` is the event seq, data the change and the alert of its alert.v1 `message`, as is."""
    data = sse_alert_data(event.seq, event.change, event.time, event.actor, event.comment, message)
    return f"id: {event.seq}\nevent: alert\ndata: {data}\n\n"


class AlertEvents(Protocol):
    """The alert events the live feed follows (store.alerts)."""

    def latest_event_seq(self) -> int:
        """The highest stored event seq."""

    def events_with_alerts(self, *, after: int = 0, limit: int = 500) -> list[tuple[AlertEvent, str]]:
        """Events after `after`, each with its alert.v1 message."""


class LiveHub:
    """Follows the store's alert events with one poller and fans them out to every SSE client.

    The store is the source of truth: `publish` (callable from any thread, after the commit)
    only wakes the poller early, so a client never sees an event the store does not hold.
    """

    def __init__(self, store: AlertEvents, *, poll_s: float = 0.2, keepalive_s: float = 15.0,
                 buffer: int = 5000) -> None:
        self._store = store
        self._poll_s = poll_s
        self.keepalive_s = keepalive_s
        self._buffer: deque[tuple[int, str]] = deque(maxlen=buffer)
        self._last = 0
        self._trimmed = 0  # highest seq dropped from the buffer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._cond: asyncio.Condition | None = None
        self._closed = False
        self._positions: deque[tuple[int, str]] = deque(maxlen=2000)
        self._pos_seq = 0
        self._tasks: set[asyncio.Future[None]] = set()

    @property
    def last_seq(self) -> int:
        """The newest event seq the hub has seen."""
        return self._last

    def publish(self, changes: Iterable[Any] = ()) -> None:
        """Tell the hub new alert events were committed (thread-safe; the changes are read back from the store)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
                loop.call_soon_threadsafe(wake.set)

    def publish_positions(self, observations: Iterable[Observation]) -> None:
        """Send live track positions to connected clients (thread-safe; not stored, not resumable)."""
        texts = [f"event: position\ndata: {json.dumps(observation_to_dict(o), separators=(',', ':'))}\n\n"
                 for o in observations]
        loop = self._loop
        if texts and loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._add_positions, texts)

    def _add_positions(self, texts: list[str]) -> None:
        for text in texts:
            self._pos_seq += 1
            self._positions.append((self._pos_seq, text))
        self._spawn_notify()

    def _spawn_notify(self) -> None:
        task = asyncio.ensure_future(self._notify())
        self._tasks.add(task)  # a reference, so the task is not collected before it runs
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """Poll the store (every poll_s, or at once when published) until closed."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        # Events up to now are not buffered: streams resuming before this read them from the store.
        self._last = self._trimmed = await run_in_threadpool(self._store.latest_event_seq)
        self._cond = asyncio.Condition()
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()
            try:
                rows = await run_in_threadpool(self._store.events_with_alerts, after=self._last, limit=_BATCH)
            except Exception:  # a database hiccup: keep serving, try again next tick
                await asyncio.sleep(self._poll_s)
                continue
            if rows:
                for event, message in rows:
                    if len(self._buffer) == self._buffer.maxlen:
                        self._trimmed = self._buffer[0][0]
                    self._buffer.append((event.seq, sse_message(event, message)))
                self._last = rows[-1][0].seq
                async with self._cond:
                    self._cond.notify_all()
                if len(rows) == _BATCH:
                    self._wake.set()

    def close(self) -> None:
        """End the poller and every stream (thread-safe)."""
        self._closed = True
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._spawn_notify)

    async def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()
        if self._cond is not None:
            async with self._cond:
                self._cond.notify_all()

    async def _from_store(self, cursor: int) -> tuple[int, list[str]]:
        rows = await run_in_threadpool(self._store.events_with_alerts, after=cursor, limit=_BATCH)
        return (rows[-1][0].seq if rows else cursor), [sse_message(e, m) for e, m in rows]

    async def stream(self, after: int | None) -> AsyncIterator[str]:
        """SSE text for every event with seq > `after` (None: from now on), then new ones as they come."""
        cursor = self._last if after is None else after
        pos_cursor = self._pos_seq
        yield "retry: 2000\n\n"
        while not self._closed:
            positions = [(n, m) for n, m in list(self._positions) if n > pos_cursor]
            for n, message in positions:
                yield message
                pos_cursor = n
            if self._cond is None or cursor < self._trimmed:
                # Behind the buffer (a resume) or no poller running: read the store directly.
                cursor, messages = await self._from_store(cursor)
                for message in messages:
                    yield message
                if len(messages) == _BATCH or self._cond is None:
                    if self._cond is None:
                        await asyncio.sleep(self._poll_s)
                    continue
            fresh = [(seq, m) for seq, m in list(self._buffer) if seq > cursor]
            if fresh:
                for seq, message in fresh:
                    yield message
                    cursor = seq
                continue
            async with self._cond:
                if self._last > cursor or self._pos_seq > pos_cursor or self._closed:
                    continue
                try:
                    await asyncio.wait_for(self._cond.wait(), self.keepalive_s)
                except TimeoutError:
                    yield ": keepalive\n\n"


@router.get("/live", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."}})
async def live(
    hub: HubDep,
    _: Reader,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this seq (as Last-Event-ID)")] = None,
) -> StreamingResponse:
    """Alert changes (`event: alert`, resumable by Last-Event-ID or ?after=seq) and live `event: position`s."""
    if last_event_id is not None:
        try:
            after = int(last_event_id)
        except ValueError:
            raise HTTPException(422, "Last-Event-ID must be an event seq (an integer)") from None
        if after < 0:
            raise HTTPException(422, "Last-Event-ID must be >= 0")
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(hub.stream(after), media_type="text/event-stream", headers=headers)
