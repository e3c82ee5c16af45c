"""The outbox row holds the alert.v1 message it publishes: `alert_events.message` replaces `snapshot`.

- `alert_events.message` (text): the alert.v1 message of the change (routewatch.wire.alert_message),
  sent as it is by MQTT and SSE. Each stored snapshot becomes the message that was published for it
  before this revision, byte for byte; events from before revision 0002 keep none (NULL), as before.
- `alert_events.snapshot` (the alert as JSON, without the change) is dropped.

Downgrading gives each message back as a snapshot and drops `message`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (see 0001).
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BATCH = 2000
# Frozen: the keys of the alert in the message (as MQTT published it) and in a snapshot, in their order.
MESSAGE_KEYS = ("id", "kind", "corridor_id", "corridor_version", "subject_id", "subject_class", "opened_at",
                "last_seen", "closed_at", "lat", "lon", "heading_deg", "speed_m_s", "progress_m", "severity",
                "state", "updates", "detail", "source", "evidence")
SNAPSHOT_KEYS = ("id", "kind", "corridor_id", "corridor_version", "subject_id", "subject_class", "opened_at",
                 "last_seen", "closed_at", "lon", "lat", "heading_deg", "speed_m_s", "progress_m", "severity",
                 "state", "updates", "detail", "source", "evidence")

EVENTS = sa.table(
    "alert_events",
    sa.column("seq", SERIAL),
    sa.column("change", sa.String()),
    sa.column("snapshot", sa.JSON()),
    sa.column("message", sa.Text()),
)


def _pages(column: str) -> Iterator[list[Any]]:
    """The rows of seq, change and `column`, in pages by seq (every row, so memory stays bounded)."""
    conn, after = op.get_bind(), 0
    while True:
        query = (sa.select(EVENTS.c.seq, EVENTS.c.change, EVENTS.c[column])
                 .where(EVENTS.c.seq > after).order_by(EVENTS.c.seq).limit(_BATCH))
        rows = list(conn.execute(query))
        if not rows:
            return
        yield rows
        after = rows[-1].seq


def _set(column: str, values: list[dict[str, Any]]) -> None:
    if values:
        stmt = EVENTS.update().where(EVENTS.c.seq == sa.bindparam("b_seq")).values({column: sa.bindparam("b_value")})
        op.get_bind().execute(stmt, values)


def _message(change: str, snapshot: dict[str, Any]) -> str:
    # What the publisher sent before: {"change": ..., **alert}, with json.dumps' default separators.
    return json.dumps({"change": change, **{k: snapshot[k] for k in MESSAGE_KEYS}})


def _snapshot(message: str) -> dict[str, Any]:
    values = json.loads(message)
    return {k: values[k] for k in SNAPSHOT_KEYS}


def upgrade() -> None:
    """Add alert_events.message, filled from each snapshot as it was published; drop snapshot."""
    op.add_column("alert_events", sa.Column("message", sa.Text(), nullable=True))
    for rows in _pages("snapshot"):
        _set("message", [{"b_seq": seq, "b_value": _message(change, snap)} for seq, change, snap in rows if snap])
    op.drop_column("alert_events", "snapshot")


def downgrade() -> None:
    """Add alert_events.snapshot back, filled from each message; drop message."""
    op.add_column("alert_events", sa.Column("snapshot", sa.JSON(), nullable=True))
    for rows in _pages("message"):
        _set("snapshot", [{"b_seq": seq, "b_value": _snapshot(text)} for seq, _, text in rows if text is not None])
    op.drop_column("alert_events", "message")
