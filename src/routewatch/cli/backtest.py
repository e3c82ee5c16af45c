"""`routewatch backtest`: what a corridor set would have raised over stored history."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import click

from routewatch.cli.common import DEFAULT_DB, IsoTime, db_url, err, fail, load_settings, open_store, out


@click.command(name="backtest")
@click.option("--corridors", "corridors_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Draft corridor file (GeoJSON/KML/fence); not saved. Default: the corridors in force.")
@click.option("--from", "start", type=IsoTime(), required=True, help="Window start (ISO 8601 with zone).")
@click.option("--to", "end", type=IsoTime(), required=True, help="Window end, exclusive.")
@click.option("--db", envvar="ROUTEWATCH_STORE__URL",
              help=f"Database URL [default: the settings' store.url, else {DEFAULT_DB}].")
@click.option("--warmup", "warmup_s", type=click.FloatRange(0, 7 * 86400), default=3600.0, show_default=True,
              help="Seconds of history before the window replayed first, so ongoing episodes go on.")
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Settings file (its engine and alerts sections are used).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--workers", type=click.IntRange(0, 32), default=0, show_default=True,
              help="Processes sharing out the subjects (0: one per CPU, at most 8; 1: this process only).")
def backtest_cmd(corridors_file: Path | None, start: datetime, end: datetime, db: str | None, warmup_s: float,
                 config: Path | None, as_json: bool, workers: int) -> None:
    """What a corridor set would have raised over stored history, beside what was raised: added, removed, unchanged."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from routewatch.analysis.backtest import BacktestError, Window, backtest
    from routewatch.geo.corridors import load_corridors

    settings = load_settings(config, db_url(db) if db else None)
    try:
        window = Window(start, end)
    except BacktestError as exc:
        fail(str(exc))
    store = open_store(settings.store.url)
    try:
        corridors = load_corridors(corridors_file) if corridors_file is not None else store.corridors.current()
        if not corridors:
            fail("no corridors: give --corridors FILE or save corridors first")
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      TextColumn("{task.completed:,} fixes"), TimeRemainingColumn(), console=err.console,
                      transient=True,
                      disable=as_json) as bar:
            task = bar.add_task("backtest", total=None)
            report = backtest(store, corridors, window, settings.engine, settings.alerts, warmup_s=warmup_s,
                              progress=lambda done, total: bar.update(task, completed=done, total=total),
                              workers=1 if settings.world.enabled else workers or min(os.cpu_count() or 1, 8),
                              collect_less=True, world=settings.world)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    out.print(f"backtest {window.start.isoformat()} .. {window.end.isoformat()}: {report.observations:,} fixes "
              f"({report.observations / max(report.elapsed_s, 1e-9):,.0f}/s), corridors {', '.join(report.corridors)}")
    for label, alerts_ in (("added", report.diff.added), ("removed", report.diff.removed)):
        for a in alerts_:
            sign = "+" if label == "added" else "-"
            out.print(f"  {sign} {a.opened_at:%Y-%m-%d %H:%M:%S}Z {a.kind.value:6} {a.corridor_id} {a.subject_id} "
                      f"[dim]{a.id}[/]", highlight=False)
    out.print(f"added {len(report.diff.added)}, removed {len(report.diff.removed)}, "
              f"unchanged {len(report.diff.unchanged)}"
              + (f"; {report.not_evaluated} autopilot fence alert(s) not re-evaluated" if report.not_evaluated else ""))
