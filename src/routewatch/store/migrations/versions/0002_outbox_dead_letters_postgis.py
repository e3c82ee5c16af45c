"""Dead letters; alert events become an outbox; geometry columns where PostGIS is available.

- `dead_letters`: inputs that could not be used, unique on (topic, received_at, excerpt hash).
- `alert_events.snapshot` (the alert as stored after the change, JSON) and `published_at`, with
  a partial index on the unpublished rows. Events already stored were never published (there
  was no MQTT output before this revision) and have no snapshot: they are marked published at
  upgrade time, so upgrading does not push old history to the field as new alerts.
- PostgreSQL with PostGIS (created here when the server has it and we may): `geom` columns on
  alerts, positions (POINT) and corridors (GEOMETRY), generated from lon/lat or the GeoJSON,
  with GiST indexes. Without it they are skipped with a logged reason; `Store.enable_postgis()`
  adds them later. The alembic config attribute `routewatch_postgis=False` skips them on purpose.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import context, op
from alembic.operations import Operations

from routewatch.store import spatial

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (see 0001).
UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNPUBLISHED = sa.text("published_at IS NULL")


def _now() -> datetime | int:
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        return (now - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return now


def upgrade() -> None:
    """Add dead letters, the outbox columns and (where possible) the geometry columns."""
    op.create_table(
        "dead_letters",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload_excerpt", sa.Text(), nullable=False),
        sa.Column("excerpt_sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        sa.UniqueConstraint(
            "topic", "received_at", "excerpt_sha256", name="uq_dead_letters_topic_received_at_excerpt_sha256"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"])

    op.add_column("alert_events", sa.Column("snapshot", sa.JSON(), nullable=True))
    op.add_column("alert_events", sa.Column("published_at", UTC_TIME, nullable=True))
    events = sa.table("alert_events", sa.column("published_at", UTC_TIME))
    op.execute(events.update().values(published_at=_now()))
    op.create_index(
        "ix_alert_events_unpublished",
        "alert_events",
        ["seq"],
        sqlite_where=UNPUBLISHED,
        postgresql_where=UNPUBLISHED,
    )

    config = context.config
    if config is None or config.attributes.get("routewatch_postgis", True):
        spatial.add_geometry(Operations(op.get_context()))


def downgrade() -> None:
    """Drop what the upgrade added (the postgis extension itself stays)."""
    spatial.drop_geometry(Operations(op.get_context()))
    op.drop_index("ix_alert_events_unpublished", table_name="alert_events")
    op.drop_column("alert_events", "published_at")
    op.drop_column("alert_events", "snapshot")
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")
    op.drop_table("dead_letters")
