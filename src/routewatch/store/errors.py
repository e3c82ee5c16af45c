"""Errors the store raises for things a caller can cause."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of the store's own errors."""


class UnknownAlertError(StoreError, KeyError):
    """No alert with the given id is stored."""

    def __init__(self, alert_id: str) -> None:
        super().__init__(alert_id)
        self.alert_id = alert_id

    def __str__(self) -> str:
        return f"no alert with id {self.alert_id!r}"


class CorridorConflictError(StoreError):
    """A corridor set could not be saved (duplicate ids, or a concurrent save won)."""


class UnsupportedDatabaseError(StoreError):
    """The URL names a database the store does not support."""
