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


class RemovalNotConfirmedError(StoreError):
    """A corridor import would remove stored corridors, and the caller did not confirm that many."""

    def __init__(self, ids: list[str], expected: int) -> None:
        self.ids, self.expected = ids, expected
        super().__init__(
            f"the import would remove {len(ids)} stored corridor(s) the file does not name: {', '.join(ids)}; "
            f"nothing was saved (confirm with the count of removals, {len(ids)}, or keep them by merging)"
        )


class AmbiguousAlertIdError(StoreError, KeyError):
    """An alert id prefix matches more than one stored alert."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        super().__init__(prefix)
        self.prefix, self.candidates = prefix, candidates

    def __str__(self) -> str:
        more = ", ..." if len(self.candidates) > 10 else ""
        return (f"alert id prefix {self.prefix!r} is ambiguous; candidates: "
                f"{', '.join(self.candidates[:10])}{more}")


class UnsupportedDatabaseError(StoreError):
    """The URL names a database the store does not support."""
