"""JPEG evidence of alerts raised from video: a `snapshots` table and `alerts.snapshot_id`.

- `snapshots`: one per alert (unique alert_id, deleted with its alert): the frame's camera and
  time, its size, the drawn box and the JPEG bytes (BLOB / BYTEA).
- `alerts.snapshot_id`: the alert row's reference to its snapshot (NULL when none). Not a
  foreign key: the two tables would point at each other, and adding one on SQLite means a
  rebuild of `alerts`; `Store.put_snapshot` writes both in one transaction.

Existing rows are kept; existing alerts have no snapshot.

Revision ID: 0004
Revises: 0003
Create Date: 2026-05-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (see 0001).
UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create snapshots and add alerts.snapshot_id."""
    op.create_table(
        "snapshots",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("camera", sa.String(), nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_snapshots_alert_id_alerts", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
        sa.UniqueConstraint("alert_id", name="uq_snapshots_alert_id"),
        sqlite_autoincrement=True,
    )
    op.add_column("alerts", sa.Column("snapshot_id", SERIAL, nullable=True))


def downgrade() -> None:
    """Drop the snapshots (their JPEGs are lost) and alerts.snapshot_id (a table rebuild on SQLite)."""
    op.drop_table("snapshots")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("snapshot_id")
