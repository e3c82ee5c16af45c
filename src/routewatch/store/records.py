"""Values the store returns that are not model types: audit and history records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from routewatch.model import Alert, AlertChange, AlertState, Change, Corridor


@dataclass(frozen=True, slots=True)
class CorridorVersion:
    """One stored version of a corridor with its audit fields (a tombstone when deleted)."""

    corridor: Corridor
    author: str
    comment: str
    created_at: datetime
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One stored lifecycle change of an alert; `seq` increases in insertion order."""

    seq: int
    alert_id: str
    change: Change
    time: datetime
    state: AlertState
    updates: int
    actor: str = ""
    comment: str = ""


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An alert event still to be published: `alert` is the alert as stored right after the change.

    `message` is the event's alert.v1 message (wire.alert_message), the text that is published.
    """

    seq: int
    change: Change
    time: datetime
    alert: Alert
    message: str
    actor: str = ""
    comment: str = ""

    @property
    def alert_change(self) -> AlertChange:
        """The event as the AlertChange that sinks publish."""
        return AlertChange(self.change, self.alert)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One recorded analyze/run invocation."""

    id: int
    command: str
    started_at: datetime
    finished_at: datetime | None
    inputs: tuple[str, ...]
    counters: dict[str, Any]
