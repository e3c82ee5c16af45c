"""The door between source threads and the loop: `Delivery` batches, offered (live) or put (nothing lost)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from routewatch.model import DeadLetter, TelemetryEvent

log = logging.getLogger(__name__)

LINK_BATCH, LINK_BATCH_S = 200, 0.05
# Live deliveries the loop holds past the queue while it waits on the database (events, not batches).
HELD_EVENTS = 200_000


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a source hands to the loop: telemetry, dead letters, and the bus tokens to ack once stored."""

    events: tuple[TelemetryEvent, ...] = ()
    dead: tuple[DeadLetter, ...] = ()
    tokens: tuple[int, ...] = ()


@dataclass(slots=True)
class HandoffCounters:
    """What crossed from the source threads into the loop, and what was dropped on the way."""

    offered: int = 0
    dropped: int = 0


class Handoff:
    """Thread-side door into the loop's bounded queue.

    The queue bounds what waits in batches, and a live link hands over a batch every LINK_BATCH_S
    whatever its rate: 256 batches were 12.8 s of a link. While the loop awaits the database (a
    slow commit on a busy disk, start-up recovery) nothing takes from the queue, so a longer wait
    dropped a contiguous stretch of live data. Offered batches that find the queue full are held
    here instead, in the loop's thread, up to HELD_EVENTS events; only past that are they dropped,
    counted and logged. `drain` hands over the queue, then what is held, in the order offered.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Delivery],
                 held_events: int = HELD_EVENTS) -> None:
        self.loop, self.queue = loop, queue
        self.counters = HandoffCounters()
        self.held_events = held_events
        self._held: deque[Delivery] = deque()
        self._held_n = 0
        self._dropping = False

    def offer(self, item: Delivery) -> None:
        """Live data that cannot wait: never block the reader; hold it, or past the limit drop (and count) it."""
        try:
            self.loop.call_soon_threadsafe(self._put_nowait, item)
        except RuntimeError:  # the loop has closed: we are shutting down
            self.counters.dropped += len(item.events) + len(item.dead)

    def _put_nowait(self, item: Delivery) -> None:
        if not self._held:  # once holding, everything offered queues behind what is held: order is kept
            try:
                self.queue.put_nowait(item)
                self.counters.offered += len(item.events)
                return
            except asyncio.QueueFull:
                pass
        n = len(item.events) + len(item.dead)
        if self._held_n + n > self.held_events:  # dead letters too: what is lost is counted
            self.counters.dropped += n
            if not self._dropping:
                self._dropping = True
                log.warning("the pipeline is behind: %d events held; live input is being dropped (counted as "
                            "dropped (behind))", self._held_n)
            return
        self._held.append(item)
        self._held_n += n
        self.counters.offered += len(item.events)

    def drain(self) -> list[Delivery]:
        """Everything handed over, without waiting: the queue, then what was held."""
        out = drain(self.queue)
        out.extend(self._held)
        self._held.clear()
        self._held_n = 0
        self._dropping = False
        return out

    def empty(self) -> bool:
        """Nothing handed over waits."""
        return self.queue.empty() and not self._held

    def put(self, item: Delivery, stop: threading.Event) -> bool:
        """Data that must not be lost (files, unacknowledged bus messages): wait for room."""
        try:
            fut = asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop)
        except RuntimeError:
            return False
        while not stop.is_set():
            try:
                fut.result(timeout=0.2)
                return True
            except TimeoutError:
                continue
        fut.cancel()
        return False


class Batcher:
    """Collects items from a callback thread and hands them over by count or every LINK_BATCH_S."""

    def __init__(self, emit: Callable[[list[object]], None], stop: threading.Event,
                 period_s: float = LINK_BATCH_S) -> None:
        self.emit, self.stop, self.period_s = emit, stop, period_s
        self._lock = threading.Lock()
        self._emitting = threading.Lock()
        self._buf: list[object] = []
        threading.Thread(target=self._tick, name="batcher", daemon=True).start()

    def __call__(self, item: object) -> None:
        with self._lock:
            self._buf.append(item)
            full = len(self._buf) >= LINK_BATCH
        if full:
            self.flush()

    def flush(self) -> None:
        """Hand over what is collected, batches in the order they were taken.

        The callback thread (a full batch) and the ticker can both flush: without holding one lock
        from taking a batch to handing it over, a later batch could be handed over first, and a
        subject's newer fix would reach the pipeline before its older one (dropped as out of order).
        """
        with self._emitting:
            with self._lock:
                buf, self._buf = self._buf, []
            if buf:
                self.emit(buf)

    def _tick(self) -> None:
        while not self.stop.wait(self.period_s):
            self.flush()
        self.flush()


def drain(queue: asyncio.Queue[Delivery]) -> list[Delivery]:
    """Everything already handed over, without waiting."""
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


__all__ = ["LINK_BATCH", "Batcher", "Delivery", "Handoff", "drain"]
