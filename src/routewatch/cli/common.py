"""What the command modules share: the lazy consoles, settings and store opening, failing with a message, and
the parameter types; kept light, as every command module imports it at start-up."""

from __future__ import annotations

import gc
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

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


def fail(msg: str, code: int = 2) -> NoReturn:
    from rich.markup import escape  # rich is loaded by then: err.print makes the console

    # The message is plain text: "sectors.areas[west]" must not be taken for a style tag.
    err.print(f"[bold red]error:[/] {escape(msg)}", highlight=False)
    sys.exit(code)


def check_sectors(settings: Settings) -> str:
    """Load the sector areas (fail with the key and the problem); ", sector X of N (margin M m)" or ""."""
    cfg = settings.sectors
    if not cfg.enabled:
        return ""
    from routewatch.app.runtime import sector_gate

    try:
        sector_gate(settings)
    except ValueError as exc:
        fail(str(exc))
    return f", sector {cfg.own} of {len(cfg.areas)} (margin {cfg.margin_m:g} m)"


def started() -> None:
    """The command's libraries are loaded: keep them out of the collector's way, and collect from here on."""
    gc.freeze()
    gc.enable()


def finished(enabled: bool) -> None:
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:  # started() turned it on: a caller that had it off gets it off again
        gc.disable()


def load_settings(config: Path | None, db: str | None = None) -> Settings:
    from routewatch.config import ConfigError, load_settings
    from routewatch.config.store import StoreConfig

    started()

    try:
        s = load_settings(config)
        if db:
            s = s.model_copy(update={"store": StoreConfig(**{**s.store.model_dump(), "url": db})})
        return s
    except ConfigError as exc:
        fail(str(exc))


def db_url(db: str) -> str:
    from routewatch.config.store import StoreConfig

    try:
        return StoreConfig(url=db).url
    except ValueError as exc:
        fail(f"--db: {exc}")


def store_url(config: Path | None, db: str | None) -> str:
    """--db if given (or ROUTEWATCH_STORE__URL), else the settings file's store.url, else the default."""
    return db_url(db) if db else load_settings(config).store.url


def store_options(fn: _F) -> _F:
    """--db and -c/--config on a command that opens the store (see _store_url)."""
    fn = click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                      help="Settings file: its store.url is the database unless --db is given.")(fn)
    return click.option("--db", envvar="ROUTEWATCH_STORE__URL",
                        help=f"Database URL [default: the settings' store.url, else {DEFAULT_DB}].")(fn)


def prog() -> str:
    """How the user invoked us, for hints they can paste (the venv's script is often not on PATH)."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "routewatch" or "/" not in sys.argv[0]:
        return "routewatch"
    try:
        return str(argv0.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(argv0)


def now() -> datetime:
    return datetime.now(UTC)


def open_store(url: str) -> Store:
    """The store at `url`, its schema migrated (imported here: SQLAlchemy is for the commands that use it)."""
    from routewatch.store import open_store

    started()
    return open_store(url)


def store_with_corridors(url: str, corridors_file: Path | None, command: str) -> tuple[Store, tuple[Corridor, ...]]:
    """Open (and migrate) the store; install the corridor file, if given, as the set in force."""
    from routewatch.app.analyze import install_corridors
    from routewatch.geo.corridors import CorridorError

    store = open_store(url)
    try:
        return store, install_corridors(store, corridors_file, author=command, comment=command, at=now())
    except CorridorError as exc:
        store.close()
        fail(str(exc))


def resolve_alert_id(store: Store, given: str) -> str:
    """The full id of the alert `given` names: the id, or a unique prefix of it (as git takes short hashes)."""
    from routewatch.store import AmbiguousAlertIdError, UnknownAlertError
    from routewatch.store.repository import MIN_ID_PREFIX

    try:
        return store.alerts.resolve_id(given)
    except AmbiguousAlertIdError as exc:
        fail(str(exc))
    except UnknownAlertError:
        short = f" (a prefix needs at least {MIN_ID_PREFIX} characters)" if len(given) < MIN_ID_PREFIX else ""
        fail(f"no alert with id {given!r}{short}")




class IsoTime(click.ParamType[datetime]):
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


class Area(click.ParamType["BBox"]):
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
