"""Column types: UTC datetimes that are compact on SQLite and native on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch of a tz-aware datetime (exact, no float rounding)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given to the store; times must be tz-aware UTC")
    return (value - EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """The tz-aware UTC datetime of microseconds since the Unix epoch."""
    return EPOCH + timedelta(microseconds=value)


class UTCDateTime(TypeDecorator[datetime]):
    """A tz-aware UTC datetime: INTEGER microseconds on SQLite, TIMESTAMPTZ elsewhere.

    Integers keep SQLite rows small and sort and compare exactly; reads always return
    tz-aware UTC datetimes, and naive datetimes are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """SQLite gets a BIGINT column, other databases a timezone-aware timestamp."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Convert to what the column holds (checks the value is tz-aware)."""
        if value is None:
            return None
        micros = to_micros(value)
        if dialect.name == "sqlite":
            return micros
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Convert what the column holds back to a tz-aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        return from_micros(int(value))
