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


# A number this far behind the last one is a new start whose first messages were lost, not a redelivery.
REPEAT_WINDOW = 10_000
# A jump further ahead is a publisher that renumbered (or a forged number), not that many lost messages.
MAX_GAP = 1_000_000
# Topics counted apart; more (a publisher inventing topics) share one row, so memory and /metrics stay bounded.
MAX_TOPICS = 1_000
OTHER = "(other topics)"


class SeqCounter:
    """Counts gaps per topic; fed by the thread that parses messages, read by any (thread-safe)."""

    def __init__(self, max_topics: int = MAX_TOPICS) -> None:
        self._lock = threading.Lock()
        self._topics: dict[str, PublisherCount] = {}
        self._max_topics = max_topics

    def see(self, topic: str, seq: int) -> None:
        """A message numbered seq arrived on topic."""
        with self._lock:
            if topic not in self._topics and len(self._topics) >= self._max_topics - 1:  # one kept for OTHER
                topic = OTHER
            got = self._topics.get(topic)
            if got is None:
                self._topics[topic] = PublisherCount(seq)
                return
            got.received += 1
            if got.last < seq <= got.last + MAX_GAP + 1:
                got.gaps += seq - got.last - 1
            elif seq == 0 or seq > got.last:  # the publisher started again, or renumbered
                got.restarts += 1
            elif seq < got.last - REPEAT_WINDOW:  # it started again and 0..seq-1 never came
                got.restarts += 1
                got.gaps += seq
            else:  # QoS 1 delivers again what was not acknowledged: nothing is missing
                got.repeats += 1
                return
            got.last = seq

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
