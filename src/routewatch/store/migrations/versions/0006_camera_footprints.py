"""Camera coverage: `camera_footprints`, what each camera saw on the ground over time.

- `camera_footprints`: camera, kind (fixed/drone), start and end (exclusive) event times, the
  ground polygon (lon/lat WKB) and the footprint format version. Unique by (camera, start):
  a row is rewritten while it is extended. Indexed by start and by end for window queries.

Nothing existing changes; downgrading drops the table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-05-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (see 0001).
UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create camera_footprints."""
    op.create_table(
        "camera_footprints",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("start", UTC_TIME, nullable=False),
        sa.Column("end", UTC_TIME, nullable=False),
        sa.Column("polygon", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_camera_footprints"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_camera_footprints_camera_start", "camera_footprints", ["camera", "start"], unique=True)
    op.create_index("ix_camera_footprints_start", "camera_footprints", ["start"])
    op.create_index("ix_camera_footprints_end", "camera_footprints", ["end"])


def downgrade() -> None:
    """Drop camera_footprints (the recorded coverage is lost)."""
    op.drop_index("ix_camera_footprints_end", table_name="camera_footprints")
    op.drop_index("ix_camera_footprints_start", table_name="camera_footprints")
    op.drop_index("ix_camera_footprints_camera_start", table_name="camera_footprints")
    op.drop_table("camera_footprints")
