"""`routewatch analyze`: recorded MAVLink logs, or one camera's videos, through the pipeline into the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from routewatch.cli.common import DEFAULT_DB, db_url, err, fail, load_settings, out, store_with_corridors

if TYPE_CHECKING:
    from routewatch.config.schema import Settings


@click.command(name="analyze")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--corridors", "corridors_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Corridor file (GeoJSON/KML); saved as the set in force. Default: the stored set.")
@click.option("--db", envvar="ROUTEWATCH_STORE__URL",
              help=f"Database URL [default: the settings' store.url, else {DEFAULT_DB}].")
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Settings file for engine/alerts parameters (and mqtt.input, cameras for MQTT recordings).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", is_flag=True, help="Do not print alerts as they open.")
@click.option("--realtime", is_flag=True, help="Replay at recorded speed instead of as fast as possible.")
@click.option("--speed", type=click.FloatRange(0.01, 1000), default=1.0, show_default=True,
              help="Speed factor for --realtime.")
@click.option("--camera", "camera_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Camera file (YAML/JSON: name, start_time, gcps): INPUTS are that camera's videos.")
def analyze_cmd(inputs: tuple[Path, ...], corridors_file: Path | None, db: str | None, config: Path | None,
                as_json: bool, quiet: bool, realtime: bool, speed: float, camera_file: Path | None) -> None:
    """Process MAVLink logs (.tlog), MQTT recordings (.jsonl) or, with --camera, a camera's videos; store the alerts.

    \b
    An MQTT recording (`routewatch record`) has one received message per line:
      {"topic": "routewatch/v1/pos/cam-a", "received_at": "2026-03-01T22:14:03.120Z", "payload": {...}}
    with "payload_b64" (base64) instead of "payload" for a message that is not JSON. Its messages are
    parsed and checked as the live MQTT input does (the settings' mqtt.input; received_at plays the
    receiver's clock), in received_at order; what is refused, and bad lines, become dead letters.
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from routewatch.app.analyze import analyze
    from routewatch.app.console import AlertPrinter, print_summary

    settings = load_settings(config, db_url(db) if db else None)
    if camera_file is not None:
        _analyze_video(list(inputs), camera_file, settings, corridors_file, as_json, quiet)
        return
    _refuse_non_tlogs(inputs, realtime)
    store, corridors = store_with_corridors(settings.store.url, corridors_file, "analyze")
    if not corridors:
        err.print("[yellow]warning:[/] no corridors: positions are stored but no alert can be raised")
    sinks = [] if (quiet or as_json) else [AlertPrinter(out.console)]
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=err.console, transient=True, disable=as_json) as bar:
        task = bar.add_task("analyzing", total=None)
        summary = analyze(list(inputs), settings, store, corridors, sinks=sinks, realtime=realtime, speed=speed,
                          progress=lambda done, total: bar.update(task, completed=done, total=total))
    store.close()
    print_summary(out.console, summary, as_json=as_json)
    empty = [f"{path}: no MAVLink message in its {size:,} bytes: not a MAVLink telemetry log (.tlog)"
             for path, size in summary.without_mavlink.items()]
    if empty:
        fail("\n".join(empty))


def _refuse_non_tlogs(inputs: tuple[Path, ...], realtime: bool) -> None:
    """Refuse, before reading them through, inputs that are plainly neither a MAVLink log nor an MQTT recording."""
    from routewatch.ingest.mavlink import not_a_tlog
    from routewatch.ingest.mqtt.recordfile import is_recording_file

    for path in inputs:
        if is_recording_file(path):
            if realtime:
                fail(f"{path} is an MQTT recording: it is analyzed as fast as possible; leave out --realtime")
            continue
        if path.suffix.lower() == ".jsonl":
            fail(f"{path} is not an MQTT recording: no line of its start is a JSON object with topic and received_at "
                 '(e.g. {"topic": "routewatch/v1/pos/cam-a", "received_at": "2026-03-01T12:00:00Z", "payload": {}})')
        with path.open("rb") as f:
            what = not_a_tlog(f.read(512))
        if what is not None:
            hint = (": give --camera CAMERA.yaml to analyze a camera's video" if what.startswith("a video") else
                    ", nor an MQTT recording (.jsonl: each line an object with topic and received_at)"
                    if what.startswith("JSON") else "")
            fail(f"{path} is {what}, not a MAVLink telemetry log (.tlog){hint}")


def _analyze_video(inputs: list[Path], camera_file: Path, settings: Settings, corridors_file: Path | None,
                   as_json: bool, quiet: bool) -> None:
    from rich.progress import BarColumn, Progress, TextColumn

    from routewatch.app.console import AlertPrinter, print_summary
    from routewatch.app.videos import analyze_videos
    from routewatch.cameras.fixed import calibrate
    from routewatch.config import ConfigError
    from routewatch.config.loader import load_camera
    from routewatch.geo.homography import CalibrationError

    if len(inputs) > 1:  # each video is timed from the camera's start_time, and track ids restart per video
        fail(f"--camera takes one video per run ({len(inputs)} given): a camera file's start_time is that "
              "video's first frame; run analyze once per video, each with its own camera file")
    try:
        cam = load_camera(camera_file)
        if cam.kind == "fixed":
            calibrate(cam)
    except ConfigError as exc:
        fail(str(exc))
    except CalibrationError as exc:
        fail(f"camera file {camera_file}: {exc}")
    store, corridors = store_with_corridors(settings.store.url, corridors_file, "analyze")
    sinks = [] if (quiet or as_json) else [AlertPrinter(out.console)]
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} videos"), console=err.console, transient=True,
                  disable=as_json) as bar:
        task = bar.add_task(f"camera {cam.name}", total=len(inputs))
        try:
            summary = analyze_videos(inputs, cam, settings, store, corridors, sinks=sinks,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))
        except ValueError as exc:
            fail(str(exc))
    store.close()
    print_summary(out.console, summary, as_json=as_json)
