"""The database."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from routewatch.config.base import Section


class StoreConfig(Section):
    """Database settings."""

    url: str = Field("sqlite:///routewatch.db", description="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://...")
    positions: bool = Field(True, description="Store every accepted position (track history for replay).")
    flush_every: int = Field(500, ge=1, le=100000, description="Write buffered rows after this many observations.")
    flush_s: float = Field(1.0, gt=0, le=60, description="Write buffered rows at least this often (wall time).")
    recover_s: float = Field(
        3600.0, ge=0, le=7 * 86400,
        description="On start, `run` replays this much stored track history (before the newest fix) to go on "
        "where it stopped; 0 starts fresh.",
    )
    journal_dir: Path = Field(
        Path("routewatch-journal"),
        description="While the database is unreachable, rows are spooled here and written when it returns.",
    )
    dead_letters_max_age_s: float = Field(
        7 * 86400.0, ge=60, le=366 * 86400, description="Dead letters older than this (by received time) are deleted."
    )
    dead_letters_max_count: int = Field(
        100_000, ge=100, le=100_000_000, description="Only this many of the newest dead letters are kept."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("unsupported database URL; use sqlite:///FILE or postgresql+psycopg://...")
        return v
