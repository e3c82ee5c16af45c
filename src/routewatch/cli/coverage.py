"""`routewatch coverage`: when and where each corridor was in some camera's view."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from routewatch.cli.common import IsoTime, fail, open_store, store_options, store_url


@click.command(name="coverage")
@click.option("--from", "start", type=IsoTime(), required=True, help="Window start (ISO 8601 with zone).")
@click.option("--to", "end", type=IsoTime(), required=True, help="Window end, exclusive.")
@store_options
@click.option("--corridor", "corridor_id", help="Only this corridor (by id).")
@click.option("--versions", type=click.Choice(["current", "history"]), default="current", show_default=True,
              help="current: the corridors in force now, over the whole window; history: each stored version "
              "over the time it was in force.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object (with the map layer).")
def coverage_cmd(start: datetime, end: datetime, db: str | None, config: Path | None, corridor_id: str | None,
                 versions: str, as_json: bool) -> None:
    """When and where each corridor was inside some camera's ground footprint, and the gaps."""
    from routewatch.analysis.coverage import CoverageError, check_window, coverage_report, table_lines

    try:
        check_window(start, end)
    except CoverageError as exc:
        fail(str(exc))
    store = open_store(store_url(config, db))
    try:
        report = coverage_report(store, start, end, corridor_id=corridor_id,
                                 versions="history" if versions == "history" else "current")
    except CoverageError as exc:
        fail(str(exc))
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    for line in table_lines(report):
        click.echo(line)
