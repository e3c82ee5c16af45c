"""Recorded video: `recording_segments` (one row per closed segment file) and `recording_events`.

- `recording_segments`: camera, file path relative to the recordings directory (unique), first and
  last frame times, frame count, bytes, codec, frame size, when it was closed, and two blobs: the
  packed time of every frame and the packed tracked boxes of every frame. Unique by (camera, start).
- `recording_events`: recording of a camera stopped (disk full, write error) or resumed.

Nothing existing changes; downgrading drops both tables (the segment files stay on disk).

Revision ID: 0005
Revises: 0004
Create Date: 2026-05-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (see 0001).
UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create recording_segments and recording_events."""
    op.create_table(
        "recording_segments",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("start", UTC_TIME, nullable=False),
        sa.Column("end", UTC_TIME, nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("codec", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("times", sa.LargeBinary(), nullable=False),
        sa.Column("boxes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recording_segments"),
        sa.UniqueConstraint("path", name="uq_recording_segments_path"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_recording_segments_camera_start", "recording_segments", ["camera", "start"], unique=True)
    op.create_table(
        "recording_events",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("free_bytes", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_recording_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_recording_events_time", "recording_events", ["time"])


def downgrade() -> None:
    """Drop both tables (segment files on disk are left alone)."""
    op.drop_index("ix_recording_events_time", table_name="recording_events")
    op.drop_table("recording_events")
    op.drop_index("ix_recording_segments_camera_start", table_name="recording_segments")
    op.drop_table("recording_segments")
