"""The live run's services, built from the settings: the MQTT link and alert publisher, the web API, and
the listener for corridor changes saved by another process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from routewatch.cameras.runtime import CameraSet
from routewatch.config.schema import Settings
from routewatch.ingest.handoff import Handoff
from routewatch.ingest.mqtt.payloads import PixelToGround
from routewatch.ingest.mqtt.receive import mqtt_receiver
from routewatch.ingest.mqtt.sequence import SeqCounter
from routewatch.outputs.mqtt import AlertPublisher
from routewatch.store import Store

log = logging.getLogger(__name__)


def call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> None:
    """Run `fn` in the loop's thread (from any thread)."""
    loop.call_soon_threadsafe(fn)


def pixel_grounds(settings: Settings) -> dict[str, PixelToGround]:
    """Pixel-to-ground of every calibrated fixed camera, for pixel detections on routewatch/v1/det/<camera>."""
    from routewatch.cameras.fixed import calibrate
    from routewatch.geo.homography import CalibrationError

    out: dict[str, PixelToGround] = {}
    for cam in settings.cameras:
        if cam.kind != "fixed":
            continue
        try:
            cal = calibrate(cam)
            out[cam.name] = PixelToGround(cal.to_ground, cam.image_size, cal.outside_m, cam.ground_margin_m)
        except CalibrationError as exc:
            log.error("camera %s: %s; its pixel detections are refused", cam.name, exc)
    return out


def listen_for_corridors(store: Store, loop: asyncio.AbstractEventLoop, stop: threading.Event) -> asyncio.Event:
    """An event set when another process saves corridors (PostgreSQL NOTIFY); polling covers SQLite."""
    news = asyncio.Event()
    if not store.url.startswith("postgresql"):
        return news
    from routewatch.store import CorridorListener, StoreError

    try:
        listener = CorridorListener(store.url)
    except StoreError as exc:
        log.warning("corridor change notifications unavailable (%s); polling instead", exc)
        return news

    def run() -> None:
        try:
            while not stop.is_set():
                got = listener.wait(1.0)
                if got is None:
                    return
                if got:
                    call_soon(loop, news.set)
        except Exception as exc:  # the poll still catches changes
            log.warning("corridor listener stopped: %s", type(exc).__name__)
        finally:
            listener.close()

    threading.Thread(target=run, name="corridor-listener", daemon=True).start()
    return news


@dataclass
class Web:
    """The web API served in the pipeline's loop: its server task, live hub and metrics."""

    server: Any
    task: asyncio.Task[None]
    hub: Any
    metrics: Any


def start_web(settings: Settings, store: Store) -> Web | None:
    """The operator API in this process and loop (uvicorn), if enabled."""
    if not settings.web.enabled:
        return None
    from routewatch.web import LiveHub, Metrics, create_app

    w = settings.web
    hub, metrics = LiveHub(store.alerts, poll_s=w.live_poll_s, keepalive_s=w.live_keepalive_s), Metrics()
    app = create_app(store, w, recording=settings.recording, engine=settings.engine, alerts=settings.alerts,
                     world=settings.world, hub=hub, metrics=metrics)
    server = web_server(app, w.host, w.port)
    log.info("web API on http://%s:%d (docs at /docs)", w.host, w.port)
    return Web(server, asyncio.get_running_loop().create_task(server.serve()), hub, metrics)


def web_server(app: Any, host: str, port: int) -> Any:
    """The uvicorn server for the web API (a uvicorn.Server) that leaves signals to the pipeline's loop."""
    import uvicorn

    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1; the app itself trusts only
    # web.trusted_proxies (routewatch.web.proxy).
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", proxy_headers=False,
                                           timeout_graceful_shutdown=2))
    # The pipeline's loop owns the signals; uvicorn must not install its own handlers.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    return server


def start_mqtt(settings: Settings, store: Store, hand: Handoff, stop: threading.Event, cameras: CameraSet,
               seqs: SeqCounter) -> tuple[Any, AlertPublisher | None]:
    """The MQTT link (one connection for inputs and alert output), if either is enabled."""
    m = settings.mqtt
    if not (m.input.enabled or m.output.enabled):
        return None, None
    from routewatch.ingest.mqtt.client import MqttLink

    topics = [*m.input.topics, *([m.input.frigate_topic] if m.input.frigate_topic else [])] if m.input.enabled else []
    topics += cameras.topics(topics) if m.input.enabled else []  # cameras with url: mqtt
    publisher: AlertPublisher | None = None
    link: MqttLink

    def on_published(mid: int) -> None:
        if publisher is not None:
            publisher.on_published(mid)

    link = MqttLink(m.broker, subscriptions=topics,
                    on_message=mqtt_receiver(m.input, hand, stop, cameras.router(m.input), pixel_grounds(settings),
                                             seqs),
                    on_published=on_published)
    if m.output.enabled:
        publisher = AlertPublisher(store.outbox, lambda topic, payload: link.publish(topic, payload, qos=1), m.output)
    link.start()
    return link, publisher
