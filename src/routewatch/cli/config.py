"""`routewatch config`: settings files."""

from __future__ import annotations

from pathlib import Path

import click

from routewatch.cli.common import check_sectors, load_settings, out


@click.group()
def config() -> None:
    """Settings files."""


@config.command(name="check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def config_check(file: Path) -> None:
    """Validate a settings file (and ROUTEWATCH_* overrides)."""
    s = load_settings(file)
    sector = check_sectors(s)
    out.print(f"{file}: OK ({len(s.sources)} source(s), database {s.store.url.split('://')[0]}{sector})")


@config.command(name="reference")
def config_reference() -> None:
    """Print every setting with its type, default, bounds and description (Markdown)."""
    from routewatch.config.loader import settings_reference

    click.echo(settings_reference())
