"""Live runner: one asyncio loop owns the pipeline; sources run in threads and hand over batches."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from routewatch.app.analyze import Summary, count_opened, new_pipeline, summarize
from routewatch.app.sources import start_file, start_link, tlog_path
from routewatch.cameras.footprints import CoverageRecorder
from routewatch.cameras.livepose import live_poses
from routewatch.cameras.runtime import CameraSet, start_cameras
from routewatch.cameras.snapshots import SnapshotTaker, camera_evidence
from routewatch.config.schema import Settings
from routewatch.ingest.handoff import Delivery, Handoff
from routewatch.ingest.mavlink import MavlinkStats
from routewatch.ingest.mqtt.payloads import PixelToGround
from routewatch.ingest.mqtt.receive import mqtt_receiver
from routewatch.ingest.mqtt.sequence import SeqCounter
from routewatch.model import Corridor, Observation
from routewatch.outputs.mqtt import AlertPublisher
from routewatch.recording.service import Recordings
from routewatch.store import Store
from routewatch.store.journal import Journal
from routewatch.store.writer import ChangeSink, Writer

log = logging.getLogger(__name__)

QUEUE_BATCHES = 256
STORE_RETRY_S = 2.0
CORRIDOR_POLL_S = 2.0


async def run_live(
    settings: Settings,
    store: Store,
    corridors: Sequence[Corridor],
    *,
    stop: asyncio.Event,
    sinks: Iterable[ChangeSink] = (),
    exit_when_files_done: bool = False,
) -> Summary:
    """Run every configured source until `stop` is set (or, optionally, all file sources end)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=QUEUE_BATCHES)
    hand = Handoff(loop, queue)
    summary = Summary(inputs=[s.url for s in settings.sources])
    pipeline = new_pipeline(corridors, settings)
    # Snapshots are drawn and stored in their own thread: the alert never waits for its evidence.
    # A camera without a url only calibrates pixel detections of an edge detector: no frames, so no snapshots.
    snaps = SnapshotTaker(store.snapshots, camera_evidence(c for c in settings.cameras if c.url), background=True)
    # Segments are written, and retention runs, in threads of their own: detection never waits for the disk.
    recordings = Recordings(settings.recording, settings.cameras, store)
    recordings.start_retention()
    # Where each camera looks, written by a thread of its own (see routewatch.cameras.footprints).
    coverage = CoverageRecorder(settings.cameras, store.coverage)
    writer = Writer(store, settings.store, [count_opened(summary), *sinks, snaps],
                    Journal(settings.store.journal_dir))
    db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
    thread_stop = threading.Event()
    stats: list[MavlinkStats] = []
    live_links: dict[str, MavlinkStats] = {}  # live MAVLink sources by name: link quality for operators
    files_left = 0
    store_errors = 0

    def file_done() -> None:
        nonlocal files_left
        files_left -= 1

    # Live drone cameras read their pose from the telemetry of a live link, fed in the link's thread.
    pose_feeds, pose_tracks = live_poses(settings.cameras)
    for cfg in settings.sources:
        path = tlog_path(cfg)
        if path is None:
            live_links[cfg.name] = start_link(cfg, hand, thread_stop, pose_feeds.get(cfg.name)).stats
            stats.append(live_links[cfg.name])
            continue
        st = MavlinkStats()
        stats.append(st)
        files_left += 1
        start_file(path, cfg, st, hand, thread_stop, lambda: _call_soon(loop, file_done))

    await loop.run_in_executor(db, _recover, pipeline, store, settings.store.recover_s)
    # What start-up built (modules, corridors, recovered state) lives for the whole run: keep the
    # cyclic GC from rescanning it, which otherwise stalls the loop for tens of milliseconds.
    gc.collect()
    gc.freeze()
    cameras, camera_files = start_cameras(settings.cameras, hand, thread_stop, lambda: _call_soon(loop, file_done),
                                          snaps.cache_for, pose_tracks, record_for=recordings.for_camera,
                                          coverage=coverage)
    files_left += camera_files
    seqs = SeqCounter()  # MQTT publishers' message counters: gaps are messages a broker dropped
    mqtt, publisher = _start_mqtt(settings, store, hand, thread_stop, cameras, seqs)
    web = _start_web(settings, store)
    corridor_news = _listen_for_corridors(store, loop, thread_stop)
    revision = await loop.run_in_executor(db, store.corridors.revision)
    unacked: list[int] = []
    last_flush = retry_at = next_corridor_check = 0.0
    # Lag of the fixes taken since the last flush (wall time when taken minus their newest event time);
    # None: nothing was waiting, so there is no lag, however old the last fix is.
    lag_s: float | None = None

    def take(item: Delivery) -> bool:
        nonlocal lag_s
        obs = [e for e in item.events if isinstance(e, Observation)]
        if obs:
            lag_s = max(lag_s or 0.0, time.time() - max(o.time for o in obs).timestamp())
        summary.add_positions(obs)
        summary.ingest["dead_letters"] += len(item.dead)
        changes = pipeline.feed_many(item.events)
        writer.add(changes, obs, item.dead)
        unacked.extend(item.tokens)
        if web is not None and obs:
            web.hub.publish_positions(obs)
        return bool(changes)

    async def flush() -> None:
        nonlocal last_flush, retry_at, store_errors, lag_s
        now = time.monotonic()
        if now < retry_at:  # the last try failed in both the database and the journal: back off
            return
        tokens = list(unacked)
        unacked.clear()
        try:
            in_db = await loop.run_in_executor(db, writer.flush)
        except Exception as exc:  # neither database nor journal took the rows: keep them, ack nothing
            unacked[:0] = tokens
            store_errors += 1
            retry_at = now + STORE_RETRY_S
            log.error("cannot store rows (%s); %d kept in memory for retry", type(exc).__name__, writer.pending)
            return
        last_flush = now
        if not in_db:
            store_errors += 1
        if web is not None:
            web.hub.publish()
            web.metrics.set_messages_in(summary.positions)
            web.metrics.set_dropped(hand.counters.dropped)
            for name, counts in cameras.by_camera().items():
                web.metrics.set_camera(name, counts)
            web.metrics.set_dead_lettered(summary.ingest["dead_letters"])
            for name, st in live_links.items():
                web.metrics.set_link(name, st.link_report())
            web.metrics.set_publishers(seqs.counts())
            web.metrics.set_pipeline_lag(max(0.0, lag_s or 0.0))
        lag_s = None
        if mqtt is not None:
            for token in tokens:  # stored (or durably spooled): the broker may forget them now
                mqtt.ack(token)
        if publisher is not None and in_db:
            try:
                await loop.run_in_executor(db, publisher.pump)
            except Exception as exc:
                log.error("alert outbox: %s", type(exc).__name__)

    async def reload_corridors() -> None:
        nonlocal revision, next_corridor_check
        next_corridor_check = time.monotonic() + CORRIDOR_POLL_S
        try:
            now_rev = await loop.run_in_executor(db, store.corridors.revision)
            if now_rev == revision:
                return
            current = await loop.run_in_executor(db, store.corridors.current)
        except Exception as exc:
            log.error("cannot check corridors: %s", type(exc).__name__)
            return
        revision = now_rev
        writer.add(pipeline.set_corridors(current), [])
        log.info("corridor set changed: %d corridor(s) now in force", len(current))

    try:
        while not stop.is_set():
            if exit_when_files_done and files_left == 0 and hand.empty():
                break
            try:
                item = await asyncio.wait_for(queue.get(), timeout=settings.store.flush_s)
            except TimeoutError:
                item = Delivery()
            # Alerts are committed before anyone hears of them, and promptly; whatever queued up
            # meanwhile goes into the same commit, so a busy loop writes bigger batches, not more.
            changed = take(item)
            for more in hand.drain():
                changed = take(more) or changed
            if changed or writer.due or time.monotonic() - last_flush >= settings.store.flush_s:
                await flush()
                pipeline.forget_before_watermark()
            if time.monotonic() >= next_corridor_check or corridor_news.is_set():
                corridor_news.clear()
                await reload_corridors()
    finally:
        thread_stop.set()
        await asyncio.sleep(0.1)  # let the batchers hand over their last items
        for item in hand.drain():  # what was handed over is processed, not lost
            take(item)
        writer.add(pipeline.finish(), [])
        retry_at = 0.0
        await flush()
        if writer.pending:
            log.error("%d rows could not be written at shutdown", writer.pending)
        if publisher is not None:
            try:
                left = await loop.run_in_executor(db, publisher.settle)
                if left:
                    log.warning("%d alert publishes not acknowledged at shutdown; they are sent again next start", left)
            except Exception as exc:
                log.error("alert outbox at shutdown: %s", type(exc).__name__)
        if mqtt is not None:
            await loop.run_in_executor(db, mqtt.stop)
        if web is not None:
            web.hub.close()
            web.server.should_exit = True
            await web.task
        await loop.run_in_executor(db, snaps.close)
        await loop.run_in_executor(db, recordings.close)
        await loop.run_in_executor(db, coverage.close)
        db.shutdown(wait=True)
    summary.ingest.update(snaps.counts)
    summary.ingest.update(recordings.counts())
    summary.ingest.update(coverage.counts())
    summary.ingest["dropped_behind"] = hand.counters.dropped
    summary.ingest.update(cameras.totals())
    for feed in pose_feeds.values():  # live drone poses: other vehicles, invalid gimbal reports, ...
        summary.ingest.update(feed.counts)
    for track in pose_tracks.values():
        summary.ingest.update(track.counts)
    summary.ingest["store_errors"] = store_errors
    summary.ingest["positions_dropped"] = writer.positions_dropped
    summary.links = {name: st.link_report() for name, st in live_links.items()}
    summary.publishers = seqs.counts()
    summary.ingest["mqtt_seq_gaps"] = seqs.gaps
    summary.ingest["dead_letters_pruned"] = writer.dead_letters_pruned
    return summarize(summary, pipeline, stats)


def _recover(pipeline: Any, store: Store, recover_s: float) -> None:
    """Take up where a previous run stopped (or was killed): stored alerts and recent track history."""
    latest = store.positions.latest_time()
    if latest is None or recover_s <= 0:
        return
    since = latest - timedelta(seconds=recover_s)
    alerts = store.alerts.to_continue(since)
    history = store.positions.since(since)
    n = pipeline.recover(alerts, history)
    log.info("recovered: %d stored fixes replayed (%d alert changes already stored), %d alerts taken up",
                len(history), n, len(alerts))


def _pixel_grounds(settings: Settings) -> dict[str, PixelToGround]:
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


def _listen_for_corridors(store: Store, loop: asyncio.AbstractEventLoop, stop: threading.Event) -> asyncio.Event:
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
                    _call_soon(loop, news.set)
        except Exception as exc:  # the poll still catches changes
            log.warning("corridor listener stopped: %s", type(exc).__name__)
        finally:
            listener.close()

    threading.Thread(target=run, name="corridor-listener", daemon=True).start()
    return news


@dataclass
class _Web:
    server: Any
    task: asyncio.Task[None]
    hub: Any
    metrics: Any


def _start_web(settings: Settings, store: Store) -> _Web | None:
    """The operator API in this process and loop (uvicorn), if enabled."""
    if not settings.web.enabled:
        return None
    from routewatch.web import LiveHub, Metrics, WebSettings, create_app
    from routewatch.web.settings import login_limits

    w = settings.web
    web_settings = WebSettings(cookie_secure=w.cookie_secure, tiles_url=w.tiles_url,
                               mbtiles=w.mbtiles, borders_file=w.borders_file, login_limits=login_limits(w),
                               trusted_proxies=tuple(w.trusted_proxies), password_checks=w.password_checks,
                               engine=settings.engine, alerts=settings.alerts,
                               recordings_dir=settings.recording.dir,
                               exports_min_free_bytes=settings.recording.resume_free_bytes)
    hub, metrics = LiveHub(store.alerts, poll_s=web_settings.live_poll_s), Metrics()
    app = create_app(store, web_settings, hub=hub, metrics=metrics)
    server = web_server(app, w.host, w.port)
    log.info("web API on http://%s:%d (docs at /docs)", w.host, w.port)
    return _Web(server, asyncio.get_running_loop().create_task(server.serve()), hub, metrics)


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


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Any) -> None:
    loop.call_soon_threadsafe(fn)


def _start_mqtt(settings: Settings, store: Store, hand: Handoff, stop: threading.Event, cameras: CameraSet,
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
                    on_message=mqtt_receiver(m.input, hand, stop, cameras.router(m.input), _pixel_grounds(settings),
                                             seqs),
                    on_published=on_published)
    if m.output.enabled:
        publisher = AlertPublisher(store.outbox, lambda topic, payload: link.publish(topic, payload, qos=1), m.output)
    link.start()
    return link, publisher
