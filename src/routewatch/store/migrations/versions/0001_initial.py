"""Initial schema: alerts, alert events, positions, versioned corridors, runs.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (migrations must not follow later model
# edits): UTC times are integer microseconds on SQLite and timestamptz elsewhere.
UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ENUM = sa.String(32)


def upgrade() -> None:
    """Create the tables and their indexes."""
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("corridor_id", sa.String(), nullable=False),
        sa.Column("corridor_version", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("subject_class", sa.String(), nullable=False),
        sa.Column("opened_at", UTC_TIME, nullable=False),
        sa.Column("last_seen", UTC_TIME, nullable=False),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("heading_deg", sa.Double(), nullable=True),
        sa.Column("speed_m_s", sa.Double(), nullable=True),
        sa.Column("progress_m", sa.Double(), nullable=True),
        sa.Column("severity", ENUM, nullable=False),
        sa.Column("state", ENUM, nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_opened_at_id", "alerts", ["opened_at", "id"])
    op.create_index("ix_alerts_corridor_id", "alerts", ["corridor_id"])
    op.create_index("ix_alerts_subject_id", "alerts", ["subject_id"])
    op.create_index("ix_alerts_state", "alerts", ["state"])

    op.create_table(
        "alert_events",
        sa.Column("seq", SERIAL, autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("change", ENUM, nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("state", ENUM, nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_events_alert_id_alerts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_alert_events"),
        sa.UniqueConstraint(
            "alert_id", "change", "time", "updates", name="uq_alert_events_alert_id_change_time_updates"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alert_events_time", "alert_events", ["time"])

    op.create_table(
        "positions",
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("alt_m", sa.Double(), nullable=True),
        sa.Column("subject_class", sa.String(), nullable=False),
        sa.Column("role", ENUM, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("speed_m_s", sa.Double(), nullable=True),
        sa.Column("heading_deg", sa.Double(), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("accuracy_m", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("subject_id", "time", name="pk_positions"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_positions_time", "positions", ["time"])

    op.create_table(
        "corridors",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("width_m", sa.Double(), nullable=True),
        sa.Column("direction", ENUM, nullable=True),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("min_dwell_s", sa.Double(), nullable=True),
        sa.Column("min_progress_m", sa.Double(), nullable=True),
        sa.Column("severity", ENUM, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", "version", name="pk_corridors"),
    )

    op.create_table(
        "runs",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("finished_at", UTC_TIME, nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"])


def downgrade() -> None:
    """Drop everything the upgrade created."""
    op.drop_index("ix_runs_started_at", table_name="runs")
    op.drop_table("runs")
    op.drop_table("corridors")
    op.drop_index("ix_positions_time", table_name="positions")
    op.drop_table("positions")
    op.drop_index("ix_alert_events_time", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_alerts_state", table_name="alerts")
    op.drop_index("ix_alerts_subject_id", table_name="alerts")
    op.drop_index("ix_alerts_corridor_id", table_name="alerts")
    op.drop_index("ix_alerts_opened_at_id", table_name="alerts")
    op.drop_table("alerts")
