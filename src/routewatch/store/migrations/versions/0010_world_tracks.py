"""World tracks: the witnesses of an alert, and corridors that ask for corroboration.

- `alerts.sensors`: JSON list of the sensor tracks that saw the (world) subject, e.g.
  ["cam-a/7", "cam-b/12"]; [] for every existing row (alerts from before world tracking).
- `corridors.min_sensors` and `corridors.confirm_s`: how many sensors must have seen a subject
  before an alert opens, and how long (event time) an alert may wait for them; NULL: none asked.

Downgrading drops the three columns (what they held is lost).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add alerts.sensors, corridors.min_sensors and corridors.confirm_s."""
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("sensors", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table("corridors") as batch:
        batch.add_column(sa.Column("min_sensors", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("confirm_s", sa.Double(), nullable=True))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("corridors") as batch:
        batch.drop_column("confirm_s")
        batch.drop_column("min_sensors")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("sensors")
