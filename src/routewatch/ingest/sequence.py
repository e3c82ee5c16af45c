"""Per-publisher message counters (`seq` in the v1 payloads): the numbers never received are gaps.

A broker over its limits (Mosquitto's max_queued_messages, max_queued_bytes) drops messages for an
offline session without telling anyone; a publisher that numbers its messages lets us count them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(slots=True)
class PublisherCount:
    """What one publisher topic's sequence numbers showed (mutable)."""

    last: int
    received: int = 1
    gaps: int = 0
    repeats: int = 0
    restarts: int = 0


class SeqCounter:
    """Counts gaps per topic; fed by the thread that parses messages, read by any (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: dict[str, PublisherCount] = {}

    def see(self, topic: str, seq: int) -> None:
        """A message numbered seq arrived on topic."""
        with self._lock:
            got = self._topics.get(topic)
            if got is None:
                self._topics[topic] = PublisherCount(seq)
                return
            got.received += 1
            if seq > got.last:
                got.gaps += seq - got.last - 1
                got.last = seq
            elif seq == 0:  # the publisher started again
                got.restarts += 1
                got.last = 0
            else:  # QoS 1 delivers again what was not acknowledged: nothing is missing
                got.repeats += 1

    @property
    def gaps(self) -> int:
        """Messages missing over all topics."""
        with self._lock:
            return sum(c.gaps for c in self._topics.values())

    def counts(self) -> dict[str, dict[str, int]]:
        """Per topic: received, gaps, repeats, restarts."""
        with self._lock:
            return {t: {"received": c.received, "gaps": c.gaps, "repeats": c.repeats, "restarts": c.restarts}
                    for t, c in sorted(self._topics.items())}
