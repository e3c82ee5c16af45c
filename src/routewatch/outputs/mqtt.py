"""Alerts out over MQTT: the committed outbox to topics, QoS 1, marked published when the broker acks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from routewatch.config.mqtt import MqttOutputConfig
from routewatch.store import OutboxEvent

log = logging.getLogger(__name__)


class Outbox(Protocol):
    """The outbox the publisher drains (store.outbox)."""

    def pending(self, limit: int = 500) -> list[OutboxEvent]:
        """Events not yet published, oldest first."""

    def mark_published(self, seqs: Sequence[int], at: datetime) -> int:
        """Record that these events were acknowledged by the broker."""


class AlertPublisher:
    """Publishes committed alert changes from the store's outbox (QoS 1); marks them when acked.

    The database is the source of truth: a change is published only after it is committed, and a
    publish the broker has not acknowledged is sent again (after a restart too) until it is.
    """

    def __init__(self, outbox: Outbox, publish: Callable[[str, bytes], int], cfg: MqttOutputConfig) -> None:
        self.outbox, self._publish, self.cfg = outbox, publish, cfg
        self._lock = threading.Lock()
        self._in_flight: dict[int, int] = {}  # mid -> outbox seq
        self._sent: set[int] = set()
        self._acked: list[int] = []
        self._early: set[int] = set()
        self.published = 0
        self.confirmed = 0

    def on_published(self, mid: int) -> None:
        """Broker acknowledged a publish (called from the MQTT thread)."""
        with self._lock:
            seq = self._in_flight.pop(mid, None)
            if seq is None:
                self._early.add(mid)  # acked before pump() recorded the mid
            else:
                self._acked.append(seq)

    def pump(self, limit: int = 1000) -> int:
        """Publish outbox entries not yet in flight and record acknowledged ones (store thread)."""
        with self._lock:
            acked, self._acked = self._acked, []
        if acked:
            self.outbox.mark_published(acked, datetime.now(UTC))
            self.confirmed += len(acked)
            with self._lock:
                self._sent.difference_update(acked)
        sent = 0
        for rec in self.outbox.pending(limit):
            with self._lock:
                if rec.seq in self._sent:
                    continue
            # The outbox row's alert.v1 message, as it is: what SSE sends too.
            mid = self._publish(f"{self.cfg.topic_prefix}/{rec.alert.kind.value}", rec.message.encode())
            with self._lock:
                self._sent.add(rec.seq)
                if mid in self._early:
                    self._early.discard(mid)
                    self._acked.append(rec.seq)
                else:
                    self._in_flight[mid] = rec.seq
            sent += 1
        self.published += sent
        return sent

    def settle(self, timeout_s: float = 5.0) -> int:
        """At shutdown: publish what is left and wait (a while) for the broker's acks; returns unacked."""
        deadline = time.monotonic() + timeout_s
        self.pump()
        while time.monotonic() < deadline:
            with self._lock:
                waiting = len(self._in_flight)
            if not waiting:
                break
            time.sleep(0.05)
        self.pump(limit=0)
        with self._lock:
            return len(self._in_flight)
