"""`routewatch` command line: the group and its error handling; each command group is a module of its own
(parse, call the app or the store, print)."""

from __future__ import annotations

import functools
import gc
import logging
import os
import sys
from typing import Any

import click

from routewatch.cli import (
    alerts,
    analyze,
    backtest,
    config,
    corridors,
    coverage,
    db,
    deadletters,
    demo,
    export,
    klv,
    record,
    run,
    users,
)
from routewatch.cli.common import DEFAULT_DB, fail, finished

__all__ = ["DEFAULT_DB", "main"]


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
                fail(str(exc) or type(exc).__name__)
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
    # of a short `analyze`). started() turns the collector on once they are in; the end restores it.
    ctx.call_on_close(functools.partial(finished, gc.isenabled()))
    gc.disable()
    ctx.obj = verbose
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for _command in (analyze.analyze_cmd, alerts.alerts, deadletters.dead_letters_cmd, backtest.backtest_cmd,
                 export.export_cmd, coverage.coverage_cmd, users.users, klv.klv, corridors.corridors,
                 config.config, db.db, run.run_cmd, record.record_cmd, demo.demo_cmd):
    main.add_command(_command)
