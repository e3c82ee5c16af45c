"""Corridor file imports, and the roles a corridor applies to.

- `corridor_file_imports`: per corridor file (its resolved path), the SHA-256 of the content last
  imported, when, and the version of each corridor that import left in force (JSON {id: version}).
  `run` imports corridors.file only when the hash changed, and only over corridors still at the
  version that import left: what planners saved in the database since is kept.
- `corridors.roles`: JSON list of the subject roles a corridor applies to; [] (every existing row)
  keeps the kind's default (targets; patrol assets for an operating_area).

Downgrading drops both (corridors that opted in for patrol assets lose that).

Revision ID: 0008
Revises: 0007
Create Date: 2026-05-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (see 0001).
UTC_TIME = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    """Create corridor_file_imports; add corridors.roles."""
    op.create_table(
        "corridor_file_imports",
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("imported_at", UTC_TIME, nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_corridor_file_imports"),
    )
    with op.batch_alter_table("corridors") as batch:
        batch.add_column(sa.Column("roles", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    """Drop corridors.roles and corridor_file_imports."""
    with op.batch_alter_table("corridors") as batch:
        batch.drop_column("roles")
    op.drop_table("corridor_file_imports")
