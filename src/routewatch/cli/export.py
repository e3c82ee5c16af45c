"""`routewatch export`: an alert's or a camera time range's clip, tracks and report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from routewatch.cli.common import (
    DEFAULT_DB,
    Area,
    IsoTime,
    db_url,
    err,
    fail,
    load_settings,
    open_store,
    out,
    resolve_alert_id,
)

if TYPE_CHECKING:
    from routewatch.geo.bbox import BBox


@click.command(name="export")
@click.option("--alert", "alert_id", help="Id of the alert to export (or give --camera, --from and --to).")
@click.option("--camera", help="Camera whose time range to export (with --from and --to).")
@click.option("--from", "start", type=IsoTime(), help="Range start (ISO 8601 with zone), with --camera.")
@click.option("--to", "end", type=IsoTime(), help="Range end (ISO 8601 with zone), with --camera; at most 1 h on.")
@click.option("--area", type=Area(), help="With --camera: only tracks with a fix (and alerts) inside this lon/lat "
              "box, minlon,minlat,maxlon,maxlat.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Directory to write into (created; file names come from the sanitised alert id, or camera "
              "and times).")
@click.option("--db", envvar="ROUTEWATCH_STORE__URL",
              help=f"Database URL [default: the settings' store.url, else {DEFAULT_DB}].")
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Settings file (its recording.dir is where the segments are).")
@click.option("--before", "before_s", type=click.FloatRange(0, 3600), default=10.0, show_default=True,
              help="With --alert: seconds of video before the alert opened.")
@click.option("--after", "after_s", type=click.FloatRange(0, 3600), default=10.0, show_default=True,
              help="With --alert: seconds of video after it closed (or was last seen).")
@click.option("--boxes/--no-boxes", default=True, show_default=True, help="Burn the tracked boxes into the clip.")
@click.pass_context
def export_cmd(ctx: click.Context, alert_id: str | None, camera: str | None, start: datetime | None,
               end: datetime | None, area: BBox | None, out_dir: Path, db: str | None, config: Path | None,
               before_s: float,
               after_s: float, boxes: bool) -> None:
    """An alert's (or a camera's time range's) MP4 clip, the tracks (GeoJSON, KML) and a one-page HTML report.

    An alert: its clip from --before its opening to --after its closing, its subject's track. A range
    (--camera, --from, --to): the camera's clip over it, every track with positions in it, and a report
    of the alerts opened in it.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from routewatch.replay.export import ExportError, export_alert
    from routewatch.replay.rangeexport import export_range

    given = {name for name in ("before_s", "after_s")
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}
    if (alert_id is None) == (camera is None):
        fail("give either --alert ID, or --camera NAME with --from and --to (not both)")
    if alert_id is not None and (start is not None or end is not None or area is not None):
        fail("--from, --to and --area go with --camera, not --alert")
    if camera is not None and (start is None or end is None):
        fail("--camera needs --from and --to")
    if camera is not None and given:
        fail("--before and --after go with --alert; with --camera give the range with --from and --to")
    settings = load_settings(config, db_url(db) if db else None)
    store = open_store(settings.store.url)
    try:
        if alert_id is not None:
            alert_id = resolve_alert_id(store, alert_id)
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} frames"), TimeRemainingColumn(),
                      console=err.console, transient=True) as bar:
            task = bar.add_task("clip", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            if alert_id is not None:
                one = export_alert(store, settings.recording.dir, alert_id, out_dir, before_s=before_s,
                                   after_s=after_s, boxes=boxes, progress=progress)
                paths, note, summary = (one.clip, one.geojson, one.kml, one.report), one.note, f"{one.fixes} fixes"
            else:
                assert camera is not None and start is not None and end is not None
                rng = export_range(store, settings.recording.dir, camera, start, end, out_dir, boxes=boxes,
                                   area=area, progress=progress)
                paths, note = (rng.clip, rng.geojson, rng.kml, rng.report), rng.note
                summary = f"{rng.fixes} fixes of {rng.tracks} track(s), {rng.alerts} alert(s)"
    except ExportError as exc:
        fail(str(exc))
    finally:
        store.close()
    for path in paths:
        if path is not None:
            out.print(str(path), highlight=False)
    out.print(f"{note}; {summary}", highlight=False)
