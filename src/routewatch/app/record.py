"""Recording the MQTT input traffic into a file (the format: routewatch.ingest.mqtt.recordfile).

The recorder is a subscriber of its own: client id `<mqtt.broker.client_id>-record` by default and a
session that ends with the connection (session_expiry_s 0), so it never takes over a worker's session
nor leaves the broker queueing for it after it stops. Shared subscriptions (`$share/<group>/...`) are
subscribed without their group: the recorder takes a copy of every message, not a worker's share.

Lines are flushed (and synced to disk) every FLUSH_S seconds and at the end; a message is acknowledged
to the broker once its line is on disk. Payloads are never logged.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from routewatch.config.mqtt import MqttBrokerConfig
from routewatch.config.schema import Settings
from routewatch.ingest.mqtt import recordfile
from routewatch.ingest.mqtt.client import MqttLink
from routewatch.ingest.mqtt.frames import FRAMES_PREFIX
from routewatch.model import InboundMessage

FLUSH_S = 1.0
POLL_S = 0.1
SHARE_PREFIX = "$share/"
CLIENT_SUFFIX = "-record"


@dataclass(slots=True)
class RecordStats:
    """What one recording run wrote (mutable)."""

    messages: int = 0
    bytes: int = 0
    seconds: float = 0.0


def unshared(topic_filter: str) -> str:
    """The filter of a shared subscription without its group: the recorder wants a copy of every message.

    >>> unshared("$share/workers/routewatch/v1/pos/+"), unshared("routewatch/v1/pos/+")
    ('routewatch/v1/pos/+', 'routewatch/v1/pos/+')
    """
    if not topic_filter.startswith(SHARE_PREFIX):
        return topic_filter
    return topic_filter.removeprefix(SHARE_PREFIX).partition("/")[2]


def record_topics(settings: Settings, topics: Sequence[str] = ()) -> list[str]:
    """The filters to record: `topics` if given, else what `run` subscribes to (inputs, Frigate, camera frames)."""
    m = settings.mqtt.input
    chosen = list(topics) or [*m.topics, *([m.frigate_topic] if m.frigate_topic else [])]
    if not topics and any(c.url == "mqtt" for c in settings.cameras) and not any(
            unshared(t).startswith(FRAMES_PREFIX) for t in chosen):
        chosen.append(f"{FRAMES_PREFIX}+")
    return list(dict.fromkeys(unshared(t) for t in chosen))


def recorder_broker(broker: MqttBrokerConfig, client_id: str | None = None) -> MqttBrokerConfig:
    """The broker settings for the recorder: its own client id, and no session kept after it stops."""
    cid = client_id or broker.client_id[: 64 - len(CLIENT_SUFFIX)] + CLIENT_SUFFIX
    return broker.model_copy(update={"client_id": cid, "session_expiry_s": 0})


def open_output(path: os.PathLike[str] | str, *, append: bool) -> IO[bytes]:
    """The recording file: a new one (FileExistsError if it exists), or the end of an existing one with `append`.

    A last line cut short (the recorder was killed mid-write) is ended, so it stays one bad line.
    """
    if not append:
        return open(path, "xb")  # the caller closes it
    f = open(path, "a+b")  # noqa: SIM115
    if f.tell() > 0:
        f.seek(f.tell() - 1)
        if f.read(1) != b"\n":
            f.write(b"\n")
    return f


def record(broker: MqttBrokerConfig, topics: Sequence[str], out: IO[bytes], stop: threading.Event, *,
           duration_s: float | None = None, on_status: Callable[[bool, str], None] | None = None,
           clock: Callable[[], float] = time.monotonic) -> RecordStats:
    """Write every message on `topics` to `out`, one line each, until `stop` is set or `duration_s` has passed."""
    inbox: queue.SimpleQueue[InboundMessage] = queue.SimpleQueue()
    link = MqttLink(broker, subscriptions=topics, on_message=inbox.put, on_status=on_status)
    stats = RecordStats()
    started = clock()
    end = started + duration_s if duration_s is not None else float("inf")
    unacked: list[int] = []
    next_flush = started + FLUSH_S
    link.start()
    try:
        while not stop.is_set() and clock() < end:
            try:
                msg = inbox.get(timeout=min(POLL_S, max(0.0, end - clock())))
            except queue.Empty:
                msg = None
            if msg is not None:
                _write(out, msg, stats)
                unacked.append(msg.token)
            if clock() >= next_flush:
                _sync(out)
                for token in unacked:
                    link.ack(token)
                unacked.clear()
                next_flush = clock() + FLUSH_S
    finally:
        link.stop()
        while True:  # what arrived before the link stopped is written too
            try:
                _write(out, inbox.get_nowait(), stats)
            except queue.Empty:
                break
        _sync(out)
        stats.seconds = clock() - started
    return stats


def _write(out: IO[bytes], msg: InboundMessage, stats: RecordStats) -> None:
    line = recordfile.encode(msg)
    out.write(line)
    stats.messages += 1
    stats.bytes += len(line)


def _sync(out: IO[bytes]) -> None:
    out.flush()
    os.fsync(out.fileno())
