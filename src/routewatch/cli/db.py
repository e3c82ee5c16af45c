"""`routewatch db`: the database schema."""

from __future__ import annotations

from pathlib import Path

import click

from routewatch.cli.common import open_store, out, store_options, store_url


@click.group()
def db() -> None:
    """Database schema."""


@db.command(name="upgrade")
@store_options
def db_upgrade(db: str | None, config: Path | None) -> None:
    """Create or migrate the schema to the latest version."""
    open_store(store_url(config, db)).close()
    out.print("database is at the latest schema version")
