"""World tracks: the witnesses of an alert, and corridors that ask for corroboration.

- `alerts.sensors`: JSON list of the sensor tracks that saw the (world) subject, e.g.
  ["cam-a/7", "cam-b/12"]; [] for every existing row (alerts from before world tracking).
- `corridors.min_sensors` and `corridors.confirm_s`: how many sensors must have seen a subject
  before an alert opens, and how long (event time) an alert may wait for them; NULL: none asked.
- `snapshots`: one per (alert, camera), not one per alert: an alert seen by two cameras keeps a
  frame from each. The unique key `uq_snapshots_alert_id` becomes `uq_snapshots_alert_id_camera`.

Downgrading drops the three columns (what they held is lost) and keeps the first snapshot stored
per alert (the one `alerts.snapshot_id` points to); the other cameras' snapshots are lost.

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


# Frozen: the tables as this revision sees them (for the data step of the downgrade).
_snapshots = sa.table("snapshots", sa.column("id", sa.Integer()), sa.column("alert_id", sa.String()))
_alerts = sa.table("alerts", sa.column("id", sa.String()), sa.column("snapshot_id", sa.Integer()))


def upgrade() -> None:
    """Add alerts.sensors, corridors.min_sensors and corridors.confirm_s; a snapshot per (alert, camera)."""
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("sensors", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table("corridors") as batch:
        batch.add_column(sa.Column("min_sensors", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("confirm_s", sa.Double(), nullable=True))
    # SQLite rebuilds the table: keep AUTOINCREMENT so a deleted snapshot's id is never reused.
    with op.batch_alter_table("snapshots", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("uq_snapshots_alert_id", type_="unique")
        batch.create_unique_constraint("uq_snapshots_alert_id_camera", ["alert_id", "camera"])


def downgrade() -> None:
    """Keep the first snapshot per alert (unique alert_id again); drop the three columns."""
    first = sa.select(sa.func.min(_snapshots.c.id)).group_by(_snapshots.c.alert_id)
    op.execute(sa.delete(_snapshots).where(_snapshots.c.id.not_in(first)))
    # The alert row points at its first snapshot already (SnapshotRepository.put); make sure of it.
    kept = (sa.select(_snapshots.c.id).where(_snapshots.c.alert_id == _alerts.c.id).scalar_subquery())
    op.execute(sa.update(_alerts).where(_alerts.c.snapshot_id.is_not(None)).values(snapshot_id=kept))
    with op.batch_alter_table("snapshots", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("uq_snapshots_alert_id_camera", type_="unique")
        batch.create_unique_constraint("uq_snapshots_alert_id", ["alert_id"])
    with op.batch_alter_table("corridors") as batch:
        batch.drop_column("confirm_s")
        batch.drop_column("min_sensors")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("sensors")
