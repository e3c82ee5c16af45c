"""`routewatch run`: the live pipeline until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from routewatch.cli.common import check_sectors, fail, load_settings, now, open_store, out

if TYPE_CHECKING:
    from routewatch.config.schema import Settings


def run_until_signal(settings: Settings, corridors_file: Path | None, *, exit_when_done: bool = False) -> None:
    """Seed the corridors, run live until SIGINT/SIGTERM (or the files end), print alerts and the summary."""
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
        corridors_ = seed_corridors(store, corridors_file, file_wins=settings.corridors.file_wins, at=now())
    except CorridorError as exc:
        store.close()
        fail(str(exc))

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


@click.command(name="run")
@click.option("-c", "--config", "config_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Settings file.")
def run_cmd(config_file: Path) -> None:
    """Run live from the configured sources until SIGINT/SIGTERM."""
    s = load_settings(config_file)
    if not s.sources and not s.mqtt.input.enabled and not s.cameras:
        fail(f"{config_file}: no sources configured (add `sources`, or enable `mqtt.input`)")
    sector = check_sectors(s)  # a bad sector area fails here, with its key, before anything starts
    mqtt = f", MQTT {s.mqtt.broker.host}:{s.mqtt.broker.port}" if s.mqtt.input.enabled or s.mqtt.output.enabled else ""
    out.print(f"routewatch running: {len(s.sources)} MAVLink source(s){mqtt}, database "
              f"{s.store.url.split('://')[0]}{sector}; Ctrl-C to stop")
    run_until_signal(s, s.corridors.file)
