"""`routewatch demo`: the bundled patrol scenario, live."""

from __future__ import annotations

from pathlib import Path

import click

from routewatch.cli.common import DEMO_DB, db_url, fail, now, open_store, out, prog
from routewatch.cli.run import run_until_signal


@click.command(name="demo")
@click.option("--speed", type=click.FloatRange(0.1, 1000), default=10.0, show_default=True,
              help="Replay speed (the scenario is 10 minutes of event time).")
@click.option("--db", default=DEMO_DB, show_default=True, help="Database URL (the default one starts fresh each run).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Dashboard port on 127.0.0.1 (0: no dashboard).")
@click.option("--model", help="A YOLO model (path, or a hub name such as yolo11n.pt) for the border camera; "
              "default: motion detection, no weights needed. Needs the detect extra. The patrol drone's camera "
              "always finds the walker by motion (seen from 60 m up, the figure is too small for COCO models).")
def demo_cmd(speed: float, db: str, port: int, model: str | None) -> None:
    """Replay the bundled patrol scenario and show alerts live (embedded defaults, no arguments needed)."""
    import secrets
    from concurrent.futures import ThreadPoolExecutor

    from routewatch.app.demo import dronecam
    from routewatch.app.demo.camera import camera, render
    from routewatch.app.demo.scenario import corridors_path, write_tlog
    from routewatch.config.schema import Settings
    from routewatch.config.sources import SourceConfig
    from routewatch.config.store import StoreConfig
    from routewatch.config.web import WebConfig
    from routewatch.config.world import WorldConfig
    from routewatch.store.users import create_user

    work = Path("routewatch-demo")
    tlog = write_tlog(work / "patrol.tlog")
    with ThreadPoolExecutor(2) as pool:  # OpenCV renders without the GIL: the two videos at once
        border_video = pool.submit(render, work / "border-cam.avi")
        drone_video = pool.submit(dronecam.render, work / f"{dronecam.NAME}.avi")
        cam = camera(border_video.result(), realtime=True, speed=speed)
        drone_cam = dronecam.camera(drone_video.result(), tlog, realtime=True, speed=speed)
    if model is not None:
        from routewatch.cameras.detector import DetectorError, YoloTracker

        cam = cam.model_copy(update={"detector": cam.detector.model_copy(update={"model": model})})
        try:  # fail now with the reason, not later in the camera's thread
            YoloTracker(model, classes=cam.detector.classes, conf=cam.detector.conf, tracker=cam.detector.tracker)
        except DetectorError as exc:
            fail(str(exc))
    url = db_url(db)
    if url == DEMO_DB:  # the demo's own database: a new demo each time
        Path("routewatch-demo/demo.db").unlink(missing_ok=True)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    web = WebConfig(enabled=port > 0, port=port or 8080)
    s = Settings(sources=[SourceConfig(name="demo", url=f"file:{tlog}", realtime=True, speed=speed)],
                 cameras=[cam, drone_cam], store=StoreConfig(url=url, journal_dir=work / "journal"), web=web,
                 world=WorldConfig(enabled=True))  # the two cameras' tracks of the walker: one subject, one alert
    out.print(f"[bold]routewatch demo[/]: replaying {tlog} and the camera videos {cam.url} and {drone_cam.url} "
              f"at {speed:g}x "
              f"against {corridors_path().name}; alerts are stored in {url}. Ctrl-C to stop.")
    if web.enabled:
        password = secrets.token_urlsafe(9)
        store = open_store(url)
        try:
            name = create_user(store.users, "demo", password, "planner", at=now()).username
        finally:
            store.close()
        out.print(f"[bold]dashboard[/]: http://127.0.0.1:{port}/  user [bold]{name}[/] password [bold]{password}[/] "
                  "(a planner: alerts and the corridor editor); it stays up after the replay until Ctrl-C",
                  highlight=False)
    run_until_signal(s, corridors_path(), exit_when_done=not web.enabled)
    out.print(f"see them again with: {prog()} alerts list --db {url}", highlight=False)
