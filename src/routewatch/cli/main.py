"""`routewatch` command line: parse arguments, call the app, print results."""

from __future__ import annotations

import functools
import gc
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from routewatch.model import AlertKind, AlertState

# Heavy libraries (SQLAlchemy, Alembic, pydantic, numpy, pymavlink, rich) are imported by the commands
# that use them: `routewatch --help` and a command's own --help load none of them.
if TYPE_CHECKING:
    from rich.console import Console

    from routewatch.config.schema import Settings
    from routewatch.geo.bbox import BBox
    from routewatch.model import Corridor
    from routewatch.store import Store

# The settings' store.url default (tests/unit/test_cli_startup.py keeps the two equal).
DEFAULT_DB = "sqlite:///routewatch.db"
DEMO_DB = "sqlite:///routewatch-demo/demo.db"
_F = TypeVar("_F", bound=Any)


class _LazyConsole:
    """A rich Console made on first use."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            console = Console(stderr=self._stderr)
            if not console.is_terminal:  # a log file or a pipe: one line stays one line, not wrapped at 80 columns
                console.soft_wrap = True
                console.width = 100_000
            self._console = console
        return self._console

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.console.print(*objects, **kwargs)


out = _LazyConsole()
err = _LazyConsole(stderr=True)


def _fail(msg: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {msg}", highlight=False)
    sys.exit(code)


def _started() -> None:
    """The command's libraries are loaded: keep them out of the collector's way, and collect from here on."""
    gc.freeze()
    gc.enable()


def _finished(enabled: bool) -> None:
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:  # _started() turned it on: a caller that had it off gets it off again
        gc.disable()


def _settings(config: Path | None, db: str | None = None) -> Settings:
    from routewatch.config import ConfigError, load_settings
    from routewatch.config.schema import StoreConfig

    _started()

    try:
        s = load_settings(config)
        if db:
            s = s.model_copy(update={"store": StoreConfig(**{**s.store.model_dump(), "url": db})})
        return s
    except ConfigError as exc:
        _fail(str(exc))


def _db_url(db: str) -> str:
    from routewatch.config.schema import StoreConfig

    try:
        return StoreConfig(url=db).url
    except ValueError as exc:
        _fail(f"--db: {exc}")


def _store_url(config: Path | None, db: str | None) -> str:
    """--db if given (or ROUTEWATCH_STORE__URL), else the settings file's store.url, else the default."""
    return _db_url(db) if db else _settings(config).store.url


def _store_options(fn: _F) -> _F:
    """--db and -c/--config on a command that opens the store (see _store_url)."""
    fn = click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                      help="Settings file: its store.url is the database unless --db is given.")(fn)
    return click.option("--db", envvar="ROUTEWATCH_STORE__URL",
                        help=f"Database URL [default: the settings' store.url, else {DEFAULT_DB}].")(fn)


def _prog() -> str:
    """How the user invoked us, for hints they can paste (the venv's script is often not on PATH)."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "routewatch" or "/" not in sys.argv[0]:
        return "routewatch"
    try:
        return str(argv0.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(argv0)


def _now() -> datetime:
    return datetime.now(UTC)


def open_store(url: str) -> Store:
    """The store at `url`, its schema migrated (imported here: SQLAlchemy is for the commands that use it)."""
    from routewatch.store import open_store

    _started()
    return open_store(url)


def _store_with_corridors(url: str, corridors_file: Path | None, command: str) -> tuple[Store, tuple[Corridor, ...]]:
    """Open (and migrate) the store; install the corridor file, if given, as the set in force."""
    from routewatch.app.analyze import install_corridors
    from routewatch.geo.corridors import CorridorError

    store = open_store(url)
    try:
        return store, install_corridors(store, corridors_file, author=command, comment=command, at=_now())
    except CorridorError as exc:
        store.close()
        _fail(str(exc))


def _alert_id(store: Store, given: str) -> str:
    """The full id of the alert `given` names: the id, or a unique prefix of it (as git takes short hashes)."""
    from routewatch.store import AmbiguousAlertIdError, UnknownAlertError
    from routewatch.store.repository import MIN_ID_PREFIX

    try:
        return store.alerts.resolve_id(given)
    except AmbiguousAlertIdError as exc:
        _fail(str(exc))
    except UnknownAlertError:
        short = f" (a prefix needs at least {MIN_ID_PREFIX} characters)" if len(given) < MIN_ID_PREFIX else ""
        _fail(f"no alert with id {given!r}{short}")


class _Cli(click.Group):
    """Reports the errors a user can cause (database, input files) as one line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
            return result
        except BrokenPipeError:
            # The reader stopped reading (`| head`): it has what it wanted. Quietly, and with nothing
            # left for the interpreter to flush into the closed pipe at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except Exception as exc:
            if isinstance(exc, (OSError, *_loaded_errors())):
                _fail(str(exc) or type(exc).__name__)
            raise


# Errors a user can cause, by defining module: one not yet imported cannot have been raised.
_USER_ERRORS = (("routewatch.store.errors", "StoreError"), ("routewatch.ingest.mavlink.frame", "MavlinkError"),
                ("routewatch.geo.corridors", "CorridorError"))


def _loaded_errors() -> tuple[type[Exception], ...]:
    return tuple(getattr(sys.modules[m], name) for m, name in _USER_ERRORS if m in sys.modules)


@click.group(cls=_Cli)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """routewatch: corridor alerts from drone telemetry."""
    # Start-up imports build long-lived objects only: collecting while they load is wasted work (a fifth
    # of a short `analyze`). _started() turns the collector on once they are in; the end restores it.
    ctx.call_on_close(functools.partial(_finished, gc.isenabled()))
    gc.disable()
    ctx.obj = verbose
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command(name="analyze")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--corridors", "corridors_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Corridor file (GeoJSON/KML); saved as the set in force. Default: the stored set.")
@click.option("--db", envvar="ROUTEWATCH_STORE__URL",
              help=f"Database URL [default: the settings' store.url, else {DEFAULT_DB}].")
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Settings file for engine/alerts parameters.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", is_flag=True, help="Do not print alerts as they open.")
@click.option("--realtime", is_flag=True, help="Replay at recorded speed instead of as fast as possible.")
@click.option("--speed", type=click.FloatRange(0.01, 1000), default=1.0, show_default=True,
              help="Speed factor for --realtime.")
@click.option("--camera", "camera_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Camera file (YAML/JSON: name, start_time, gcps): INPUTS are that camera's videos.")
def analyze_cmd(inputs: tuple[Path, ...], corridors_file: Path | None, db: str | None, config: Path | None,
                as_json: bool, quiet: bool, realtime: bool, speed: float, camera_file: Path | None) -> None:
    """Process MAVLink logs (.tlog), or a camera's videos with --camera, as fast as possible; store the alerts."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from routewatch.app.analyze import analyze
    from routewatch.app.console import AlertPrinter, print_summary

    settings = _settings(config, _db_url(db) if db else None)
    if camera_file is not None:
        _analyze_video(list(inputs), camera_file, settings, corridors_file, as_json, quiet)
        return
    _refuse_non_tlogs(inputs)
    store, corridors = _store_with_corridors(settings.store.url, corridors_file, "analyze")
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
        _fail("\n".join(empty))


def _refuse_non_tlogs(inputs: tuple[Path, ...]) -> None:
    """Refuse, before reading them through, inputs that are plainly something else than a MAVLink log."""
    from routewatch.ingest.mavlink import not_a_tlog

    for path in inputs:
        with path.open("rb") as f:
            what = not_a_tlog(f.read(512))
        if what is not None:
            hint = ": give --camera CAMERA.yaml to analyze a camera's video" if what.startswith("a video") else ""
            _fail(f"{path} is {what}, not a MAVLink telemetry log (.tlog){hint}")


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
        _fail(f"--camera takes one video per run ({len(inputs)} given): a camera file's start_time is that "
              "video's first frame; run analyze once per video, each with its own camera file")
    try:
        cam = load_camera(camera_file)
        if cam.kind == "fixed":
            calibrate(cam)
    except ConfigError as exc:
        _fail(str(exc))
    except CalibrationError as exc:
        _fail(f"camera file {camera_file}: {exc}")
    store, corridors = _store_with_corridors(settings.store.url, corridors_file, "analyze")
    sinks = [] if (quiet or as_json) else [AlertPrinter(out.console)]
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} videos"), console=err.console, transient=True,
                  disable=as_json) as bar:
        task = bar.add_task(f"camera {cam.name}", total=len(inputs))
        try:
            summary = analyze_videos(inputs, cam, settings, store, corridors, sinks=sinks,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))
        except ValueError as exc:
            _fail(str(exc))
    store.close()
    print_summary(out.console, summary, as_json=as_json)


@main.group()
def alerts() -> None:
    """Stored alerts."""


@alerts.command(name="list")
@_store_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--kind", type=click.Choice([k.value for k in AlertKind]))
@click.option("--state", type=click.Choice([s.value for s in AlertState]))
@click.option("--corridor", "corridor_id")
@click.option("--subject", "subject_id")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]))
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]))
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--within", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Only alerts inside the polygons of this GeoJSON file (PostGIS index when available).")
def alerts_list(db: str | None, config: Path | None, as_json: bool, kind: str | None, state: str | None,
                corridor_id: str | None, subject_id: str | None, since: datetime | None, until: datetime | None,
                limit: int, within: Path | None) -> None:
    """List alerts, oldest first (times are UTC)."""
    from routewatch.app.console import alert_dict
    from routewatch.geo.area import load_area

    area = None
    if within is not None:
        try:
            area = load_area(within)
        except ValueError as exc:
            _fail(f"--within: {exc}")
    store = open_store(_store_url(config, db))
    rows = store.alerts.find(within=area,
        kind=AlertKind(kind) if kind else None, state=AlertState(state) if state else None,
        corridor_id=corridor_id, subject_id=subject_id,
        since=since.replace(tzinfo=UTC) if since else None, until=until.replace(tzinfo=UTC) if until else None,
        limit=limit,
    )
    store.close()
    if as_json:
        for a in rows:
            click.echo(json.dumps(alert_dict(a)))
        return
    from rich.table import Table

    t = Table("opened (UTC)", "closed", "kind", "severity", "state", "subject", "corridor", "lat,lon", "id")
    for a in rows:
        t.add_row(f"{a.opened_at:%Y-%m-%d %H:%M:%S}", f"{a.closed_at:%H:%M:%S}" if a.closed_at else "",
                  a.kind.value, a.severity.value, a.state.value, f"{a.subject_id} ({a.subject_class})",
                  f"{a.corridor_id} v{a.corridor_version}", f"{a.lat:.5f},{a.lon:.5f}", a.id[:8])
    out.print(t)
    out.print(f"{len(rows)} alert(s)")


@alerts.command(name="ack")
@click.argument("alert_id")
@_store_options
@click.option("--by", default="cli", show_default=True, help="Who acknowledges.")
@click.option("--comment", default="", help="Why.")
def alerts_ack(alert_id: str, db: str | None, config: Path | None, by: str, comment: str) -> None:
    """Acknowledge an alert: its id, or a unique prefix of it (at least 4 characters, as `alerts list` shows)."""
    store = open_store(_store_url(config, db))
    try:
        a = store.alerts.acknowledge(_alert_id(store, alert_id), by=by, comment=comment, time=_now())
    finally:
        store.close()
    out.print(f"acknowledged {a.id} ({a.kind.value} {a.subject_id} in {a.corridor_id})")


@main.command(name="dead-letters")
@_store_options
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def dead_letters_cmd(db: str | None, config: Path | None, limit: int, as_json: bool) -> None:
    """Inputs that were refused (bad JSON, schema violations, ...), newest first, with the reason."""
    from routewatch.wire import dead_letter_to_dict

    store = open_store(_store_url(config, db))
    rows = store.dead_letters.recent(limit=limit)
    total = store.dead_letters.count()
    store.close()
    for d in rows:
        if as_json:
            click.echo(json.dumps(dead_letter_to_dict(d)))
        else:
            out.print(f"{d.received_at:%Y-%m-%d %H:%M:%S}Z {d.topic}: {d.reason}  [dim]{d.payload_excerpt[:80]!r}[/]",
                      highlight=False)
    if not as_json:
        out.print(f"{len(rows)} of {total} dead letter(s)")


class _IsoTime(click.ParamType[datetime]):
    """An ISO 8601 time with a time zone (2026-05-01T12:00:00Z)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            t = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-05-01T12:00:00Z)", param, ctx)
        if t.tzinfo is None:
            self.fail(f"{value!r} has no time zone (add Z for UTC)", param, ctx)
        return t.astimezone(UTC)


@main.command(name="backtest")
@click.option("--corridors", "corridors_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Draft corridor file (GeoJSON/KML/fence); not saved. Default: the corridors in force.")
@click.option("--from", "start", type=_IsoTime(), required=True, help="Window start (ISO 8601 with zone).")
@click.option("--to", "end", type=_IsoTime(), required=True, help="Window end, exclusive.")
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

    settings = _settings(config, _db_url(db) if db else None)
    try:
        window = Window(start, end)
    except BacktestError as exc:
        _fail(str(exc))
    store = open_store(settings.store.url)
    try:
        corridors = load_corridors(corridors_file) if corridors_file is not None else store.corridors.current()
        if not corridors:
            _fail("no corridors: give --corridors FILE or save corridors first")
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      TextColumn("{task.completed:,} fixes"), TimeRemainingColumn(), console=err.console,
                      transient=True,
                      disable=as_json) as bar:
            task = bar.add_task("backtest", total=None)
            report = backtest(store, corridors, window, settings.engine, settings.alerts, warmup_s=warmup_s,
                              progress=lambda done, total: bar.update(task, completed=done, total=total),
                              workers=workers or min(os.cpu_count() or 1, 8), collect_less=True)
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


class _Area(click.ParamType["BBox"]):
    """A lon/lat box: minlon,minlat,maxlon,maxlat."""

    name = "BBOX"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> BBox:
        from routewatch.geo.bbox import BBox, parse_bbox

        if isinstance(value, BBox):
            return value
        try:
            return parse_bbox(str(value), label="area")
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@main.command(name="export")
@click.option("--alert", "alert_id", help="Id of the alert to export (or give --camera, --from and --to).")
@click.option("--camera", help="Camera whose time range to export (with --from and --to).")
@click.option("--from", "start", type=_IsoTime(), help="Range start (ISO 8601 with zone), with --camera.")
@click.option("--to", "end", type=_IsoTime(), help="Range end (ISO 8601 with zone), with --camera; at most 1 h on.")
@click.option("--area", type=_Area(), help="With --camera: only tracks with a fix (and alerts) inside this lon/lat "
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
        _fail("give either --alert ID, or --camera NAME with --from and --to (not both)")
    if alert_id is not None and (start is not None or end is not None or area is not None):
        _fail("--from, --to and --area go with --camera, not --alert")
    if camera is not None and (start is None or end is None):
        _fail("--camera needs --from and --to")
    if camera is not None and given:
        _fail("--before and --after go with --alert; with --camera give the range with --from and --to")
    settings = _settings(config, _db_url(db) if db else None)
    store = open_store(settings.store.url)
    try:
        if alert_id is not None:
            alert_id = _alert_id(store, alert_id)
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
        _fail(str(exc))
    finally:
        store.close()
    for path in paths:
        if path is not None:
            out.print(str(path), highlight=False)
    out.print(f"{note}; {summary}", highlight=False)


@main.command(name="coverage")
@click.option("--from", "start", type=_IsoTime(), required=True, help="Window start (ISO 8601 with zone).")
@click.option("--to", "end", type=_IsoTime(), required=True, help="Window end, exclusive.")
@_store_options
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
        _fail(str(exc))
    store = open_store(_store_url(config, db))
    try:
        report = coverage_report(store, start, end, corridor_id=corridor_id,
                                 versions="history" if versions == "history" else "current")
    except CoverageError as exc:
        _fail(str(exc))
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    for line in table_lines(report):
        click.echo(line)


@main.group()
def users() -> None:
    """Web users (there is no default account: create the first admin here)."""


@users.command(name="add")
@click.argument("username")
@click.option("--role", type=click.Choice(["field", "commander", "planner", "admin"]), required=True)
@_store_options
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def users_add(username: str, role: str, db: str | None, config: Path | None, password_stdin: bool) -> None:
    """Create a user with a role; the password is asked for (never an argument, so not in shell history)."""
    from routewatch.store.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    store = open_store(_store_url(config, db))
    try:
        user = create_user(store.users, username, password, role, at=_now())
    except ValueError as exc:
        _fail(str(exc))
    finally:
        store.close()
    out.print(f"user {user.username} ({user.role}) created")


@main.group()
def klv() -> None:
    """MISB ST 0601 KLV metadata (drone full-motion video)."""


@klv.command(name="dump")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per packet.")
def klv_dump(file: Path, as_json: bool) -> None:
    """Decode every UAS Local Set packet: values the standard marks out of range are null; bad checksums flagged."""
    from routewatch.ingest.klv import packet_to_dict, scan

    result = scan(file.read_bytes())
    bad = 0
    for p in result.packets:
        d = packet_to_dict(p)
        bad += d["checksum"] != "ok"
        if as_json:
            click.echo(json.dumps(d, default=str))
        else:
            fields = ", ".join(f"{k}={v}" for k, v in d.items() if v is not None and k != "checksum")
            flag = "" if d["checksum"] == "ok" else " [bold red]BAD CHECKSUM[/]"
            out.print(f"@{p.offset}{flag} {fields}", highlight=False)
    if not as_json:
        out.print(f"{len(result.packets)} packet(s), {bad} with a bad checksum, {result.skipped_bytes} byte(s) skipped")


@main.group()
def corridors() -> None:
    """Corridor geofence files and the stored, versioned set."""


def _load(path: Path) -> Any:
    from routewatch.geo.corridors import CorridorError, load_corridors

    try:
        return load_corridors(path)
    except CorridorError as exc:
        _fail(str(exc))


@corridors.command(name="validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def corridors_validate(file: Path) -> None:
    """Check a GeoJSON/KML corridor file; exit status 2 with the problems if it is bad (or has no corridors)."""
    from routewatch.geo.corridors import CorridorError, require_some

    cs = _load(file)
    try:
        require_some(cs, str(file))
    except CorridorError as exc:
        _fail(str(exc))
    out.print(f"{file}: {len(cs)} corridor(s) OK: " + ", ".join(f"{c.id} ({c.kind.value})" for c in cs))


@corridors.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_store_options
@click.option("--author", default="cli", show_default=True)
@click.option("--comment", default="", help="Why the change was made.")
@click.option("--merge/--replace", default=False,
              help="--merge: keep stored corridors the file does not name; --replace (the default): remove them, "
              "which needs --expect-removed.")
@click.option("--expect-removed", type=click.IntRange(0), default=0, show_default=True,
              help="With --replace: how many stored corridors the import removes; any other number refuses it.")
def corridors_import(file: Path, db: str | None, config: Path | None, author: str, comment: str, merge: bool,
                     expect_removed: int) -> None:
    """Store a corridor file as the set in force; changed corridors get a new version.

    An empty file is refused. Stored corridors the file does not name are removed (a tombstone
    version each) only when --expect-removed gives their number; else they are listed and nothing is saved.
    """
    from routewatch.geo.corridors import CorridorError, require_some
    from routewatch.store import RemovalNotConfirmedError

    cs = _load(file)
    try:
        require_some(cs, str(file))
    except CorridorError as exc:
        _fail(str(exc))
    store = open_store(_store_url(config, db))
    try:
        saved = store.corridors.save(cs, author=author, comment=comment or f"import {file.name}", at=_now(),
                                     replace=not merge, expect_removed=None if merge else expect_removed)
    except RemovalNotConfirmedError as exc:
        _fail(f"{file}: {exc}: give --expect-removed {len(exc.ids)} to remove them, or --merge to keep them")
    finally:
        store.close()
    for c in saved:
        out.print(f"{c.id} v{c.version} ({c.kind.value})", highlight=False)
    if not merge and expect_removed:
        out.print(f"{expect_removed} stored corridor(s) removed", highlight=False)


@corridors.command(name="export")
@_store_options
@click.option("--format", "fmt", type=click.Choice(["geojson", "kml"]), default="geojson", show_default=True)
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout).")
def corridors_export(db: str | None, config: Path | None, fmt: str, out_file: Path | None) -> None:
    """Write the stored set in force as GeoJSON or KML."""
    from routewatch.geo.corridors import dumps_geojson, to_kml

    store = open_store(_store_url(config, db))
    cs = store.corridors.current()
    store.close()
    text = dumps_geojson(cs) if fmt == "geojson" else to_kml(cs)
    if out_file is None:
        click.echo(text)
    else:
        out_file.write_text(text, encoding="utf-8")


@corridors.command(name="list")
@_store_options
def corridors_list(db: str | None, config: Path | None) -> None:
    """List the stored corridors in force."""
    store = open_store(_store_url(config, db))
    cs = store.corridors.current()
    store.close()
    for c in cs:
        extra = f" width {c.width_m:g} m" if c.width_m else ""
        extra += f" direction {c.direction.value}" if c.direction else ""
        out.print(f"{c.id} v{c.version} {c.kind.value}{extra} {c.name}", highlight=False)
    out.print(f"{len(cs)} corridor(s)")


@corridors.command(name="from-fence")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "cid", required=True, help="Id of the new corridor.")
@click.option("--kind", type=click.Choice(["operating_area", "exclusion"]), default="operating_area",
              show_default=True)
@click.option("--name", default="", help="Human name.")
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout).")
def corridors_from_fence(file: Path, cid: str, kind: str, name: str, out_file: Path | None) -> None:
    """Convert an ArduPilot/MAVProxy fence file (lat lon per line) to a corridor GeoJSON file."""
    from routewatch.geo.corridors import CorridorError, dumps_geojson
    from routewatch.geo.fencefile import parse_fence_file
    from routewatch.model import CorridorKind

    try:
        c = parse_fence_file(file.read_text(encoding="utf-8", errors="replace"), id=cid, kind=CorridorKind(kind),
                             name=name)
    except CorridorError as exc:
        _fail(str(exc))
    text = dumps_geojson([c])
    if out_file is None:
        click.echo(text)
    else:
        out_file.write_text(text, encoding="utf-8")


@main.group()
def config() -> None:
    """Settings files."""


@config.command(name="check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def config_check(file: Path) -> None:
    """Validate a settings file (and ROUTEWATCH_* overrides)."""
    s = _settings(file)
    out.print(f"{file}: OK ({len(s.sources)} source(s), database {s.store.url.split('://')[0]})")


@config.command(name="reference")
def config_reference() -> None:
    """Print every setting with its type, default, bounds and description (Markdown)."""
    from routewatch.config.loader import settings_reference

    click.echo(settings_reference())


@main.group()
def db() -> None:
    """Database schema."""


@db.command(name="upgrade")
@_store_options
def db_upgrade(db: str | None, config: Path | None) -> None:
    """Create or migrate the schema to the latest version."""
    open_store(_store_url(config, db)).close()
    out.print("database is at the latest schema version")


def _run_until_signal(settings: Settings, corridors_file: Path | None, *, exit_when_done: bool = False) -> None:
    import asyncio
    import signal

    from routewatch.app.analyze import seed_corridors
    from routewatch.app.console import AlertPrinter, print_summary
    from routewatch.app.live import run_live
    from routewatch.geo.corridors import CorridorError

    store = open_store(settings.store.url)
    if not click.get_current_context().find_root().obj:  # -v (debug everywhere) wins over the settings' level
        # Our own loggers only: libraries stay at WARNING (their INFO is not for an operator).
        logging.getLogger("routewatch").setLevel(settings.logging.level)
    try:
        corridors_ = seed_corridors(store, corridors_file, file_wins=settings.corridors.file_wins, at=_now())
    except CorridorError as exc:
        store.close()
        _fail(str(exc))

    async def main_() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        summary = await run_live(settings, store, corridors_, stop=stop, sinks=[AlertPrinter(out.console)],
                                 exit_when_files_done=exit_when_done)
        print_summary(out.console, summary)

    asyncio.run(main_())
    store.close()


@main.command(name="run")
@click.option("-c", "--config", "config_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Settings file.")
def run_cmd(config_file: Path) -> None:
    """Run live from the configured sources until SIGINT/SIGTERM."""
    s = _settings(config_file)
    if not s.sources and not s.mqtt.input.enabled and not s.cameras:
        _fail(f"{config_file}: no sources configured (add `sources`, or enable `mqtt.input`)")
    mqtt = f", MQTT {s.mqtt.broker.host}:{s.mqtt.broker.port}" if s.mqtt.input.enabled or s.mqtt.output.enabled else ""
    out.print(f"routewatch running: {len(s.sources)} MAVLink source(s){mqtt}, database "
              f"{s.store.url.split('://')[0]}; Ctrl-C to stop")
    _run_until_signal(s, s.corridors.file)


@main.command(name="demo")
@click.option("--speed", type=click.FloatRange(0.1, 1000), default=10.0, show_default=True,
              help="Replay speed (the scenario is 10 minutes of event time).")
@click.option("--db", default=DEMO_DB, show_default=True, help="Database URL (the default one starts fresh each run).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Dashboard port on 127.0.0.1 (0: no dashboard).")
@click.option("--model", help="A YOLO model (path, or a hub name such as yolo11n.pt) for the demo camera; "
              "default: motion detection, no weights needed. Needs the detect extra.")
def demo_cmd(speed: float, db: str, port: int, model: str | None) -> None:
    """Replay the bundled patrol scenario and show alerts live (embedded defaults, no arguments needed)."""
    import secrets

    from routewatch.app.demo.camera import camera, render
    from routewatch.app.demo.scenario import corridors_path, write_tlog
    from routewatch.config.schema import Settings, SourceConfig, StoreConfig, WebConfig
    from routewatch.store.users import create_user

    work = Path("routewatch-demo")
    tlog = write_tlog(work / "patrol.tlog")
    cam = camera(render(work / "border-cam.avi"), realtime=True, speed=speed)
    if model is not None:
        from routewatch.cameras.detector import DetectorError, YoloTracker

        cam = cam.model_copy(update={"detector": cam.detector.model_copy(update={"model": model})})
        try:  # fail now with the reason, not later in the camera's thread
            YoloTracker(model, classes=cam.detector.classes, conf=cam.detector.conf, tracker=cam.detector.tracker)
        except DetectorError as exc:
            _fail(str(exc))
    url = _db_url(db)
    if url == DEMO_DB:  # the demo's own database: a new demo each time
        Path("routewatch-demo/demo.db").unlink(missing_ok=True)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    web = WebConfig(enabled=port > 0, port=port or 8080)
    s = Settings(sources=[SourceConfig(name="demo", url=f"file:{tlog}", realtime=True, speed=speed)],
                 cameras=[cam], store=StoreConfig(url=url, journal_dir=work / "journal"), web=web)
    out.print(f"[bold]routewatch demo[/]: replaying {tlog} and the camera video {cam.url} at {speed:g}x "
              f"against {corridors_path().name}; alerts are stored in {url}. Ctrl-C to stop.")
    if web.enabled:
        password = secrets.token_urlsafe(9)
        store = open_store(url)
        try:
            name = create_user(store.users, "demo", password, "planner", at=_now()).username
        finally:
            store.close()
        out.print(f"[bold]dashboard[/]: http://127.0.0.1:{port}/  user [bold]{name}[/] password [bold]{password}[/] "
                  "(a planner: alerts and the corridor editor); it stays up after the replay until Ctrl-C",
                  highlight=False)
    _run_until_signal(s, corridors_path(), exit_when_done=not web.enabled)
    out.print(f"see them again with: {_prog()} alerts list --db {url}", highlight=False)
